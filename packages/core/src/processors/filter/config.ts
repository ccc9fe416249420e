import { z } from 'zod';

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

export const filterConfigSchema = z
  .strictObject({
    include: z
      .record(z.string(), regex)
      .optional()
      .describe('Keep only records where every named column matches its regular expression.'),
    exclude: z
      .record(z.string(), regex)
      .optional()
      .describe('Drop records where any named column matches its regular expression.'),
  })
  .refine((c) => c.include !== undefined || c.exclude !== undefined, 'give include, exclude or both');
export type FilterConfig = z.output<typeof filterConfigSchema>;
