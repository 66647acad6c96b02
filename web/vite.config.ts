import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The built app is committed into the Python package (src/tidal/studio/static) and served by FastAPI.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../src/tidal/studio/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2500,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8765' } },
});
