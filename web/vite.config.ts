import { defineConfig } from 'vitest/config';

// The server serves dist/ at / (SPA fallback to index.html); dev mode proxies the API to a
// local server.
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 200 },
  server: {
    proxy: {
      '/graphql': { target: process.env.SIGHTLINE_URL ?? 'http://127.0.0.1:8080', ws: true },
    },
  },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
