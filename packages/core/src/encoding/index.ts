export { maxEscapedBytes, utf8Boundary, writeEscapedString, writeEscapedUtf8 } from './json-escape.js';
