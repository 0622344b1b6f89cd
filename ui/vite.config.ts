import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

// `npm run dev` serves the app with hot reload and sends every path the Go
// server owns to it (MIKA_URL, default http://127.0.0.1:8080).
const target = process.env.MIKA_URL || 'http://127.0.0.1:8080';
const owned = ['/api', '/videos', '/covers', '/avatars', '/healthz', '/metrics'];

export default defineConfig({
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, assetsDir: 'assets', sourcemap: false, chunkSizeWarningLimit: 700 },
  server: {
    proxy: Object.fromEntries(owned.map((p) => [p, { target, changeOrigin: false }])),
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
