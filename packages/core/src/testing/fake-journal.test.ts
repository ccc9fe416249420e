import { journalContract } from './contracts/journal.js';
import { FakeJournal } from './fake-journal.js';

await journalContract('fake', () => {
  const fake = new FakeJournal();
  const dir = '/fake/journal';
  const path = (name: string) => `${dir}/${name}`;
  return Promise.resolve({
    binding: fake,
    dir,
    path,
    write: (name, entries) => Promise.resolve(fake.write(path(name), entries)),
    damage: (name) => Promise.resolve(fake.damage(path(name))),
    dispose: () => Promise.resolve(),
  });
});
