// Quoting for SQL we build ourselves (DDL cannot take bind parameters).
// Every identifier and literal that reaches a data-plane cluster goes through here.

export function quoteIdent(name: string): string {
  if (name.includes("\0")) throw new Error("identifier contains a NUL byte");
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  if (value.includes("\0")) throw new Error("literal contains a NUL byte");
  // standard_conforming_strings is on (the default since 9.1): only quotes need doubling.
  return `'${value.replace(/'/g, "''")}'`;
}
