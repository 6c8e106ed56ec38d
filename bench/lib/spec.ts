/**
 * The upstream spec, read from the schema package's fixture by the same code its tests use, so the
 * benchmark's ajv baseline is compiled from exactly the document the tests check against.
 */
export { dataJsonSchema, specValidatesData } from "../../packages/schema/test/support/Spec.js"
