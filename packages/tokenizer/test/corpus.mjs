// A deterministic test corpus for tokenizer parity: multilingual prose, CJK, Arabic, Hindi, ZWJ emoji,
// code, whitespace runs, very long words, numbers, special-token look-alikes, and seeded random mixes
// of all of these. The same seed always gives the same strings; the oracle is whatever reads them.
// Plain JavaScript (types in corpus.d.mts) so that scripts/bench-encode.mjs runs it in Node too.

/** mulberry32: a small seeded generator, so a failing string can be rebuilt from its index. */
/** @param {number} seed @returns {() => number} */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @type {readonly string[]} */
const PROSE = [
  'The quick brown fox jumps over the lazy dog. It wasn\'t "that" lazy, was it?',
  "I'm sure they'll say we've done it; you'd think so. Don't they? O'Neill's rock'n'roll.",
  'Le cœur a ses raisons que la raison ne connaît point. Où est l\'hôtel ? À bientôt !',
  'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Straße, Maß, ÄÖÜ äöü ß ẞ.',
  'El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su querido cachorro. ¿Qué? ¡Sí!',
  'Съешь же ещё этих мягких французских булок, да выпей чаю. Ёжик в тумане.',
  'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Καλημέρα κόσμε!',
  '今天天气很好，我们去公园散步吧。人工智能正在改变世界，机器学习模型越来越大。',
  '我能吞下玻璃而不伤身体。「你好」，『世界』——《红楼梦》第一回。',
  '吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。カタカナ、ひらがな、漢字。',
  'ｱｲｳｴｵ ｶﾞｷﾞ 全角ＡＢＣ１２３ 半角ABC123 〜！？',
  '다람쥐 헌 쳇바퀴에 타고파. 안녕하세요, 세계! 한국어 형태소 분석은 어렵습니다.',
  'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ومغلف بجلد أزرق. السَّلَامُ عَلَيْكُمْ',
  'مرحبا بالعالم 123 و ٤٥٦ — English inside العربية text.',
  'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम।',
  'नमस्ते दुनिया! क्षत्रिय, ज्ञान, श्री, द्ध, ह्य।',
  'שלום עולם! אני יכול לאכול זכוכית וזה לא מזיק לי.',
  'เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน',
  'Tiếng Việt có dấu: Người ơi, người ở đừng về. Đường đi khó.',
  'İstanbul’da ılık bir gün; IĞDIR, ığdır, i̇.',
  'ᚠᛇᚻ᛫ᛒᛦᚦ᛫ᚠᚱᚩᚠᚢᚱ ⠊⠀⠉⠁⠝ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 ∀x∈ℝ: x²≥0 ∑∫∂√∞≠≈',
  'ﬁﬂ ﬀ Ⅷ ① ㎏ ™ ℃ ½ ¹²³ Å Å (NFC vs NFD: é é, ñ ñ)',
];

/** @type {readonly string[]} */
const EMOJI = [
  '👨‍👩‍👧‍👦 family, 👩🏽‍💻 coder, 🏳️‍🌈 flag, 🧑🏿‍🤝‍🧑🏻 holding hands',
  '🇯🇵🇺🇸🇩🇪🇫🇷 flags 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland',
  '1️⃣ #️⃣ *️⃣ ❤️ ❤ ☺️ ✌🏼 👍🏽👍🏾👍🏿',
  '🦙🐉🎉🚀🔥💯 🫠🫶🪿 emoji at the end 😀',
  'ok👌ok😀😀😀😀😀😀😀😀',
];

/** @type {readonly string[]} */
const CODE = [
  'function add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2)); // 3\n',
  'def fib(n: int) -> int:\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(10)])\n',
  '{"name": "localm", "version": "0.1.0", "tags": ["llm", "onnx"], "nested": {"a": [1, 2.5, -3e10, null, true]}}',
  '<html>\n\t<body class="x">\n\t\t<p>Hello &amp; &lt;world&gt;</p>\n\t</body>\n</html>',
  'SELECT id, name FROM users WHERE age >= 18 AND name LIKE \'%son\' ORDER BY id DESC;',
  'const re = /^(?:[a-z0-9!#$%&\'*+/=?^_`{|}~-]+)@([a-z]+)\\.com$/gi;',
  '#include <stdio.h>\nint main(void){printf("%d\\n",42);return 0;}',
  'fn main() {\n    let v: Vec<u8> = vec![0xDE, 0xAD, 0xBE, 0xEF];\n    println!("{:?}", v);\n}',
  '$ git log --oneline | head -n 5 && echo "done" > /dev/null 2>&1',
  '    \tmixed indent\n  \t  line\r\n\r\nwindows line endings\r\n',
];

/** @type {readonly string[]} */
const WHITESPACE = [
  ' ',
  '  ',
  '   leading',
  'trailing   ',
  'a  b   c    d     e      f',
  '\n',
  '\n\n\n\n',
  '\t\t\tx',
  ' \n \n ',
  '\r\n',
  'line\u00a0with\u00a0nbsp and\u3000ideographic\u2003em space',
  'zero\u200bwidth\u200cnon\u200djoiner\ufeffbom',
  '\u2028line sep\u2029para sep\u0085nel',
  'tab\tseparated\tvalues\t1\t2\t3',
  'lone \ud800 high and \udc00 low surrogates \ud83d',
];

/** @type {readonly string[]} */
const NUMBERS = [
  '0 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890',
  '3.14159265358979323846264338327950288419716939937510',
  '−42, +7, 1e-9, 0x1F, 0b1010, 1_000_000, 1,234,567.89',
  'Call 555-0199 on 2024-02-29 at 23:59:59.999Z',
  '١٢٣٤٥٦٧٨٩٠ ०१२३४५६७८९ 一二三四五 ①②③',
];

// Strings that are, contain, or almost are the special tokens of the four families.
/** @type {readonly string[]} */
const SPECIAL_LOOKALIKES = [
  '<s>Hello</s>',
  '<s> Hello </s> <unk>',
  '<|begin_of_text|>Hi<|eot_id|><|start_header_id|>user<|end_header_id|>',
  '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
  '<|endoftext|><|im_end|><think>\nhmm\n</think>',
  '<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n',
  '<|im_start <|im_end | < s > <s ></s><|begin_of_text |><start_of_turn',
  'text<pad>text<mask><eos>',
  '<tool_call>\n{"name": "f"}\n</tool_call>',
];

/** @param {() => number} next @returns {string[]} */
function longWords(next) {
  const base64 = Array.from({ length: 400 }, () =>
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charAt(Math.floor(next() * 64)),
  ).join('');
  return [
    'a'.repeat(300),
    'supercalifragilisticexpialidocious'.repeat(12),
    'Donaudampfschifffahrtsgesellschaftskapitänswitwenrentenversicherungsanstalt',
    'pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism',
    'https://example.com/a/very/long/path/with-hyphens_and_underscores/index.html?q=tokenizer&lang=zh-CN#section-42',
    base64,
    '9'.repeat(200),
    '中'.repeat(150),
    'ありがとう'.repeat(40),
    '!'.repeat(120) + '?'.repeat(33),
    '=-'.repeat(100),
    '😀'.repeat(60),
    '\u0301'.repeat(40) + 'e' + '\u0301'.repeat(40),
  ];
}

// Code point ranges random strings are drawn from: scripts above, plus symbols, controls, astral planes.
/** @type {readonly (readonly [number, number])[]} */
const RANGES = [
  [0x20, 0x7e],
  [0x00, 0x1f],
  [0xa0, 0x24f],
  [0x300, 0x36f],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x590, 0x5ff],
  [0x600, 0x6ff],
  [0x900, 0x97f],
  [0xe00, 0xe7f],
  [0x1100, 0x11ff],
  [0x2000, 0x206f],
  [0x2190, 0x23ff],
  [0x3000, 0x30ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0xe000, 0xe0ff],
  [0xff00, 0xffef],
  [0x1d400, 0x1d7ff],
  [0x1f300, 0x1faff],
  [0x20000, 0x2a6df],
];

/** @param {() => number} next @param {number} length @returns {string} */
function randomCodePoints(next, length) {
  let out = '';
  for (let i = 0; i < length; i++) {
    const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)] ?? [0x20, 0x7e];
    out += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  }
  return out;
}

/**
 * The corpus: every fixed string above, then `randomCount` seeded mixes (fragments of the fixed strings
 * cut at random code points, joined by random separators, with random code points between).
 */
/** @returns {string[]} */
export function buildCorpus(seed = 20250301, randomCount = 600) {
  const next = seededRandom(seed);
  const fixed = [...PROSE, ...EMOJI, ...CODE, ...WHITESPACE, ...NUMBERS, ...SPECIAL_LOOKALIKES, ...longWords(next)];
  const separators = [' ', '', '\n', '  ', '\t', ' \n', '. ', '\u3000', '\r\n', '    '];
  /** @type {<T>(list: readonly T[]) => T} */
  const pick = (list) => list[Math.floor(next() * list.length)];
  /** @type {string[]} */
  const mixes = [];
  for (let i = 0; i < randomCount; i++) {
    /** @type {string[]} */
    const parts = [];
    const count = 1 + Math.floor(next() * 5);
    for (let j = 0; j < count; j++) {
      const roll = next();
      if (roll < 0.7) {
        const chars = [...pick(fixed)];
        const start = Math.floor(next() * chars.length);
        parts.push(chars.slice(start, start + 1 + Math.floor(next() * 60)).join(''));
      } else {
        parts.push(randomCodePoints(next, 1 + Math.floor(next() * 12)));
      }
      parts.push(pick(separators));
    }
    mixes.push(parts.join(''));
  }
  return [...fixed, fixed.join('\n\n'), ...mixes];
}
