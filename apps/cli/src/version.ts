/** Kept in step with package.json's version (checked by a test). */
export const version = "0.1.0"
