/**
 * The Wine tests run when OMA_WINE_TESTS=1, which `npm run test:wine` sets: the first run fetches
 * node.exe (about 35 MB) from the npm registry and makes a Wine prefix, which a plain `npm test`
 * should not do. The CI script runs `npm run test:wine` on its own.
 */
export const WINE_TESTS_ENABLED = process.env.OMA_WINE_TESTS === '1';
export const WINE_SKIP_REASON = 'Wine tests run with `npm run test:wine` (sets OMA_WINE_TESTS=1; needs wine 8 and mingw-w64)';
