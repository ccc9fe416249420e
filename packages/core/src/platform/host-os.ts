/**
 * The OS this Node runtime runs on, read in this one place of core, and only for what Node itself does
 * differently per OS: file system semantics (path separators and case, which handles can be fsynced,
 * open flags) and where software installed the same way on every host of an OS keeps its files (the
 * Azure Arc agent's key directory). What a platform provides (host facts, defaults, components) comes
 * through `Platform` from the platform package instead.
 */
export const HOST_OS: NodeJS.Platform = process.platform;

/** Windows file system semantics: `\` and `/` separate, names compare ignoring case, directories cannot be fsynced. */
export const WINDOWS_FS = HOST_OS === 'win32';
