// The web chat example: COOP/COEP so WASM threads work, onnxruntime-web left to load its own .wasm,
// module workers, and the repo's models/ folder served as the site's root (the bundled TinyStories).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  appType: 'mpa', // a missing file is a 404, not index.html: the loader probes optional files like localm.json
  publicDir: fileURLToPath(new URL('../../models', import.meta.url)),
  server: { headers: isolation },
  preview: { headers: isolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
