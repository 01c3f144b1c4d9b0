/**
 * Reading a profiles file from disk: the one loader used by `cdk synth`, the function's cold
 * start and the local server.
 */
import { readFileSync } from "node:fs";
import {
  type ParseOptions,
  type ProfilesConfig,
  ProfilesConfigError,
  parseProfilesConfig,
} from "./profiles.js";

/**
 * Reads, parses and validates a profiles file.
 * @throws {ProfilesConfigError} naming the file, with one line per problem.
 */
export function loadProfilesFile(path: string, options: ParseOptions = {}): ProfilesConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new ProfilesConfigError([`${path}: cannot read the file (${code})`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProfilesConfigError([`${path}: not valid JSON (${(error as Error).message})`]);
  }
  try {
    return parseProfilesConfig(value, options);
  } catch (error) {
    if (!(error instanceof ProfilesConfigError)) throw error;
    throw new ProfilesConfigError(error.problems.map((problem) => `${path}: ${problem}`));
  }
}
