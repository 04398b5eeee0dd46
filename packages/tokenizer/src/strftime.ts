// Python's `datetime.strftime` in the C locale (what `strftime_now` in chat templates calls), for the
// directives templates use. @huggingface/jinja's own version knows fewer and names months in the
// host's locale, so "%b" could render "juil." where Python renders "Jul".

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function pad(value: number, width: number, fill = '0'): string {
  return String(value).padStart(width, fill);
}

function dayOfYear(date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1);
  const utc = (d: Date): number => Date.UTC(d.getFullYear(), d.getMonth(), d.getDate());
  return (utc(date) - utc(start)) / 86_400_000 + 1;
}

/**
 * Formats local time like Python's strftime in the C locale. glibc's "%-d" (no padding) is
 * supported for d, m, H, I, M, S, j; an unknown directive is kept as written, as glibc does.
 * @example formatStrftime(new Date(2024, 6, 26), '%d %b %Y') // '26 Jul 2024'
 */
export function formatStrftime(date: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, directive: string) => {
    const numeric = (value: number, width: number): string => (noPad === '-' ? String(value) : pad(value, width));
    const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
    switch (directive) {
      case 'a':
        return (DAYS[date.getDay()] ?? '').slice(0, 3);
      case 'A':
        return DAYS[date.getDay()] ?? '';
      case 'b':
      case 'h':
        return (MONTHS[date.getMonth()] ?? '').slice(0, 3);
      case 'B':
        return MONTHS[date.getMonth()] ?? '';
      case 'd':
        return numeric(date.getDate(), 2);
      case 'e':
        return pad(date.getDate(), 2, ' ');
      case 'm':
        return numeric(date.getMonth() + 1, 2);
      case 'y':
        return pad(date.getFullYear() % 100, 2);
      case 'Y':
        return String(date.getFullYear());
      case 'H':
        return numeric(date.getHours(), 2);
      case 'I':
        return numeric(hour12, 2);
      case 'p':
        return date.getHours() < 12 ? 'AM' : 'PM';
      case 'M':
        return numeric(date.getMinutes(), 2);
      case 'S':
        return numeric(date.getSeconds(), 2);
      case 'j':
        return numeric(dayOfYear(date), 3);
      case 'w':
        return String(date.getDay());
      case 'F':
        return `${date.getFullYear()}-${pad(date.getMonth() + 1, 2)}-${pad(date.getDate(), 2)}`;
      case 'T':
        return `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}`;
      case '%':
        return noPad === '' ? '%' : whole;
      default:
        return whole;
    }
  });
}
