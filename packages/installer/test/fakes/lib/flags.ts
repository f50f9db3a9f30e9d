/**
 * A strict command-line parser with pflag's rules (the library kubeadm, kubelet, ctr's urfave and
 * systemctl's getopt all refuse unknown options): `--name=value`, `--name value`, `-x value`,
 * booleans bare or `--name=true|false`, lists as comma-separated and/or repeated, `--` ends flags.
 * Errors are the texts pflag prints (`unknown flag: --foo`), so a fake refuses like the real tool.
 */
export type FlagKind = "bool" | "string" | "strings" | "int";

export interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: FlagKind;
}

export class FlagError extends Error {}

export interface ParsedFlags {
  readonly args: string[];
  /** Flags given on the command line, by long name. */
  readonly given: ReadonlySet<string>;
  bool(name: string): boolean;
  string(name: string): string | undefined;
  strings(name: string): string[];
  int(name: string): number | undefined;
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const byShort = new Map(specs.filter((spec) => spec.short !== undefined).map((spec) => [spec.short as string, spec]));
  const values = new Map<string, string[]>();
  const args: string[] = [];
  const set = (spec: FlagSpec, value: string) => {
    if (spec.kind === "int" && !/^-?\d+$/.test(value)) {
      throw new FlagError(`invalid argument "${value}" for "--${spec.name}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
    }
    if (spec.kind === "bool" && !["true", "false", "1", "0", "t", "f", "TRUE", "FALSE", "True", "False"].includes(value)) {
      throw new FlagError(`invalid argument "${value}" for "--${spec.name}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
    }
    const list = values.get(spec.name) ?? [];
    if (spec.kind === "strings") list.push(...value.split(",").filter((part) => part !== ""));
    else list.splice(0, list.length, value);
    values.set(spec.name, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byName.get(name);
      if (spec === undefined) throw new FlagError(`unknown flag: --${name}`);
      if (eq !== -1) set(spec, arg.slice(eq + 1));
      else if (spec.kind === "bool") set(spec, "true");
      else {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
        set(spec, argv[++i] ?? "");
      }
    } else if (arg.startsWith("-") && arg.length > 1) {
      const letter = arg.slice(1, 2);
      const spec = byShort.get(letter);
      if (spec === undefined) throw new FlagError(`unknown shorthand flag: '${letter}' in ${arg}`);
      const rest = arg.slice(2);
      if (spec.kind === "bool") set(spec, rest.startsWith("=") ? rest.slice(1) : "true");
      else if (rest !== "") set(spec, rest.startsWith("=") ? rest.slice(1) : rest);
      else {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: '${letter}' in -${letter}`);
        set(spec, argv[++i] ?? "");
      }
    } else {
      args.push(arg);
    }
  }
  return {
    args,
    given: new Set(values.keys()),
    bool: (name) => ["true", "1", "t", "TRUE", "True"].includes(values.get(name)?.[0] ?? "false"),
    string: (name) => values.get(name)?.[0],
    strings: (name) => values.get(name) ?? [],
    int: (name) => {
      const value = values.get(name)?.[0];
      return value === undefined ? undefined : Number(value);
    },
  };
}
