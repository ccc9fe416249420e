/** vitest global setup of the Wine tests: fetch, build and make the prefix once; stop our wineserver at the end. */
import { WINE_TESTS_ENABLED } from './enabled.js';
import { prepareWine, stopWineserver } from './wine.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (!WINE_TESTS_ENABLED) return undefined;
  await prepareWine();
  return () => stopWineserver();
}
