/**
 * @module cluster/api/names
 * Name and label syntax checks with apimachinery's messages (`validation.IsDNS1123Subdomain`,
 * `IsDNS1123Label`, `IsDNS1035Label`, `IsQualifiedName`, `IsValidLabelValue`, `IsValidPortName`).
 * @see k8s.io/apimachinery/pkg/util/validation/validation.go
 */

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE = `(${QUALIFIED_NAME})?`;

const tooLong = (n: number): string => `must be no more than ${n} characters`;

/** Problems with a DNS-1123 subdomain (most object names). */
export function dns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push(tooLong(253));
  if (!new RegExp(`^${DNS1123_SUBDOMAIN}$`).test(v)) {
    out.push(`a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`);
  }
  return out;
}

/** Problems with a DNS-1123 label (namespaces, container names). */
export function dns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(tooLong(63));
  if (!new RegExp(`^${DNS1123_LABEL}$`).test(v)) {
    out.push(`a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`);
  }
  return out;
}

/** Problems with a DNS-1035 label (Service names). */
export function dns1035Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(tooLong(63));
  if (!new RegExp(`^${DNS1035_LABEL}$`).test(v)) {
    out.push(`a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`);
  }
  return out;
}

/** Problems with a qualified name (label and annotation keys): `[prefix/]name`. */
export function qualifiedName(v: string): string[] {
  const parts = v.split("/");
  let name = v;
  const out: string[] = [];
  if (parts.length === 2) {
    const [prefix = "", n = ""] = parts;
    name = n;
    if (prefix.length === 0) out.push("prefix part must be non-empty");
    else for (const m of dns1123Subdomain(prefix)) out.push(`prefix part ${m}`);
  } else if (parts.length > 2) {
    return [`a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) out.push("name part must be non-empty");
  else if (name.length > 63) out.push(`name part ${tooLong(63)}`);
  if (name.length > 0 && !new RegExp(`^${QUALIFIED_NAME}$`).test(name)) {
    out.push(`name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME}')`);
  }
  return out;
}

/** Problems with a label value. */
export function labelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(tooLong(63));
  if (!new RegExp(`^${LABEL_VALUE}$`).test(v)) {
    out.push(`a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${LABEL_VALUE}')`);
  }
  return out;
}

/** Problems with an IANA service name (named ports). */
export function portName(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push("must be no more than 15 characters");
  if (!/^[-a-z0-9]+$/.test(v)) out.push("must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)");
  if (v.includes("--")) out.push("must not contain consecutive hyphens");
  if (!/[a-z]/.test(v)) out.push("must contain at least one letter (a-z)");
  if (v.startsWith("-") || v.endsWith("-")) out.push("must not begin or end with a hyphen");
  return out;
}
