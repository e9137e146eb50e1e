/**
 * zod's English messages, for the edges' schemas. Those import zod's tree-shakable API (`import * as z from
 * 'zod/mini'`) so that a function bundles only what its schemas use (the classic API is 80+ KiB of each
 * bundle), and this module for the messages the classic API would have given.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());
