/** One instruction of a Dockerfile: its keyword (upper case), the rest of it, its first line. */
export interface DockerInstruction {
  instruction: string;
  args: string;
  line: number;
}

/** The Dockerfile's instructions: continuation lines joined, comments and blanks left out. */
export function parseDockerfile(text: string): DockerInstruction[];
