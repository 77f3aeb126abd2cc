/**
 * zod as the project's schemas use it: `import * as z from '<path>/zod.ts'`.
 *
 * It is zod/mini, whose schemas are built with functions (`z.optional(s)`,
 * `s.check(z.maxLength(n))`) rather than methods, so a bundle carries only
 * the schema types its handler builds (about 32 KiB): the classic API's
 * methods name the other schema types and the JSON Schema generator, some
 * 90 KiB in every Lambda bundle. zod/mini sets no locale (every issue would
 * read "Invalid input"), so this module sets zod's English one, the messages
 * the API has always given, before any schema parses.
 *
 * Named imports and `export *` only: a namespace object handed on as a value
 * (zod's own `export { z }`, taken as `import { z } from 'zod'`) makes a
 * bundler keep all of it, every locale included (444 KiB).
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';
