// The bench page: COOP/COEP so WASM threads work (dev and preview alike), onnxruntime-web left to load
// its own .wasm, module workers. `pnpm bench:serve` builds it and serves it on the LAN for phones.
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  appType: 'mpa', // a missing file is a 404, not index.html: the loader probes optional files
  base: './', // any static host, any sub-path
  server: { headers: isolation },
  preview: { headers: isolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
