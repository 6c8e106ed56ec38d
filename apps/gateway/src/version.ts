/** The gateway's version, as its package says; the bundle inlines it. */
export const version = "0.1.0"
