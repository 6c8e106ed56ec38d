/** The package version, kept equal to package.json's by a test (the build's rootDir excludes the JSON). */
export const version = "0.1.0"

export const userAgent = `convocore-effect/${version}`
