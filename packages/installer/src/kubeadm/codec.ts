/**
 * A small strict decoder for Kubernetes configuration types. Each type is declared once as a
 * codec; its TypeScript type is inferred from it, so the renderer cannot build a field the decoder
 * would refuse. Decoding follows kubeadm's strict mode (sigs.k8s.io/yaml with unknown fields
 * refused): field names are case-sensitive, unknown or misspelt ones are errors, a value of the
 * wrong type is an error, and every problem is reported with its path, not just the first.
 */

export interface Codec<T> {
  /** What the value should be, for messages ("int32", "a list of string", "object APIEndpoint"). */
  readonly expected: string;
  /** Appends problems to `errors` (prefixed by `path`) and returns undefined when there are any. */
  decode(input: unknown, path: string, errors: string[]): T | undefined;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

function primitive<T>(expected: string, accepts: (input: unknown) => input is T): Codec<T> {
  return {
    expected,
    decode(input, path, errors) {
      if (accepts(input)) return input;
      errors.push(`${path}: expected ${expected}, got ${describe(input)}`);
      return undefined;
    },
  };
}

function describe(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "an object";
  if (typeof input === "string") return `string ${JSON.stringify(input)}`;
  return `${typeof input} ${String(input)}`;
}

function integerIn(min: number, max: number) {
  return (input: unknown): input is number =>
    typeof input === "number" && Number.isInteger(input) && input >= min && input <= max;
}

export const string = primitive("string", (input): input is string => typeof input === "string");
export const boolean = primitive("boolean", (input): input is boolean => typeof input === "boolean");
export const int32 = primitive("int32", integerIn(-(2 ** 31), 2 ** 31 - 1));
export const uint32 = primitive("uint32", integerIn(0, 2 ** 32 - 1));
export const int64 = primitive("int64", integerIn(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
export const float64 = primitive("number", (input): input is number => typeof input === "number");

/** metav1.Duration: a string Go's time.ParseDuration accepts ("24h0m0s", "1.5s", "0"). */
export const duration = primitive(
  "duration (like 24h0m0s)",
  (input): input is string =>
    typeof input === "string" &&
    (input === "0" || /^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$/.test(input)),
);

/** metav1.Time: RFC 3339 in UTC or with an offset. */
export const time = primitive(
  "RFC 3339 time",
  (input): input is string =>
    typeof input === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(input),
);

/** resource.Quantity: "100Mi", "0.5", or a plain number. */
export const quantity = primitive(
  "quantity (like 100Mi)",
  (input): input is string | number =>
    typeof input === "number" || (typeof input === "string" && /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki)?$/.test(input)),
);

export function oneOf<const V extends string>(...values: V[]): Codec<V> {
  return primitive(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, (input): input is V =>
    typeof input === "string" && (values as string[]).includes(input),
  );
}

/** A string or a number (Go's intstr.IntOrString, or logs' flushFrequency). */
export function either<A, B>(a: Codec<A>, b: Codec<B>): Codec<A | B> {
  return {
    expected: `${a.expected} or ${b.expected}`,
    decode(input, path, errors) {
      const firstErrors: string[] = [];
      const first = a.decode(input, path, firstErrors);
      if (firstErrors.length === 0) return first;
      const secondErrors: string[] = [];
      const second = b.decode(input, path, secondErrors);
      if (secondErrors.length === 0) return second;
      errors.push(`${path}: expected ${a.expected} or ${b.expected}, got ${describe(input)}`);
      return undefined;
    },
  };
}

export function listOf<T>(item: Codec<T>): Codec<T[]> {
  return {
    expected: `a list of ${item.expected}`,
    decode(input, path, errors) {
      if (!Array.isArray(input)) {
        errors.push(`${path}: expected a list of ${item.expected}, got ${describe(input)}`);
        return undefined;
      }
      const before = errors.length;
      const result = input.map((element, index) => item.decode(element, `${path}[${index}]`, errors));
      return errors.length === before ? (result as T[]) : undefined;
    },
  };
}

export function mapOf<T>(value: Codec<T>): Codec<Record<string, T>> {
  return {
    expected: `a map of ${value.expected}`,
    decode(input, path, errors) {
      if (!isPlainObject(input)) {
        errors.push(`${path}: expected a map of ${value.expected}, got ${describe(input)}`);
        return undefined;
      }
      const before = errors.length;
      const result: Record<string, T> = {};
      for (const [key, element] of Object.entries(input)) {
        const decoded = value.decode(element, `${path}[${JSON.stringify(key)}]`, errors);
        if (decoded !== undefined) result[key] = decoded;
      }
      return errors.length === before ? result : undefined;
    },
  };
}

export interface FieldSpec<T, Required extends boolean> {
  readonly codec: Codec<T>;
  readonly required: Required;
}

/** A field kubeadm needs (json tag without omitempty, documented as required). */
export function required<T>(codec: Codec<T>): FieldSpec<T, true> {
  return { codec, required: true };
}

/** A field that may be absent; `null` is read as absent, as Go reads it as the zero value. */
export function optional<T>(codec: Codec<T>): FieldSpec<T, false> {
  return { codec, required: false };
}

export type Fields = Record<string, FieldSpec<unknown, boolean>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<F extends Fields> = { [K in keyof F]: F[K] extends FieldSpec<unknown, true> ? K : never }[keyof F];
type OptionalKeys<F extends Fields> = Exclude<keyof F, RequiredKeys<F>>;
type FieldType<S> = S extends FieldSpec<infer T, boolean> ? T : never;

export type StructOf<F extends Fields> = Simplify<
  { [K in RequiredKeys<F>]: FieldType<F[K]> } & { [K in OptionalKeys<F>]?: FieldType<F[K]> }
>;

export interface StructCodec<F extends Fields> extends Codec<StructOf<F>> {
  readonly fields: F;
}

/** A Go struct: every key must be one of `fields` (strict decoding), required ones present. */
export function struct<F extends Fields>(name: string, fields: F): StructCodec<F> {
  return {
    expected: `object ${name}`,
    fields,
    decode(input, path, errors) {
      if (!isPlainObject(input)) {
        errors.push(`${path || "document"}: expected object ${name}, got ${describe(input)}`);
        return undefined;
      }
      const before = errors.length;
      const result: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(input)) {
        const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
        const fieldPath = path === "" ? key : `${path}.${key}`;
        if (field === undefined) {
          errors.push(`unknown field "${fieldPath}"${suggestion(key, Object.keys(fields))}`);
          continue;
        }
        if (value === null && !field.required) continue;
        const decoded = field.codec.decode(value, fieldPath, errors);
        if (decoded !== undefined) result[key] = decoded;
      }
      for (const [key, field] of Object.entries(fields)) {
        if (field.required && !Object.hasOwn(input, key)) {
          errors.push(`missing required field "${path === "" ? key : `${path}.${key}`}"`);
        }
      }
      return errors.length === before ? (result as StructOf<F>) : undefined;
    },
  };
}

function isPlainObject(input: unknown): input is Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input);
}

/** "did you mean ..." for a misspelt field: same name ignoring case, or one edit away. */
function suggestion(key: string, known: string[]): string {
  const lower = key.toLowerCase();
  const match =
    known.find((candidate) => candidate.toLowerCase() === lower) ??
    known.find((candidate) => editDistance(candidate.toLowerCase(), lower) <= 2);
  return match === undefined ? "" : ` (did you mean "${match}"?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
