/**
 * zod as the project's schemas use it: `import * as z from '<path>/zod.ts'`.
 *
 * It is zod/mini, whose schemas are built with functions (`z.optional(s)`,
 * `s.check(z.maxLength(n))`) rather than methods, so a bundle carries only
 * the schema types its handler builds: every method of the classic API names
 * every other schema type, which kept the whole of zod, JSON Schema generator
 * included, in each Lambda bundle. zod/mini sets no locale (every issue would
 * read "Invalid input"), so this module sets zod's English one, the messages
 * the API has always given, before any schema parses.
 *
 * Only named imports here: re-exporting a namespace object (`export { z }`)
 * makes a bundler keep all of it.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';
