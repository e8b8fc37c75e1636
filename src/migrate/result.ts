/**
 * The last step of both imports: what the lvsd config cannot say about a service becomes
 * a warning at the service's line, and every warning is repeated as a comment, above its
 * service or at the top of the output, so that nothing is dropped in silence.
 */
import { uniqueDiagnostics } from '../config/diagnostics.js';
import type { Diagnostic } from '../config/diagnostics.js';
import { serviceFields } from './lvsd-fields.js';
import type { ImportResult } from './types.js';

export function warningNote(d: Pick<Diagnostic, 'file' | 'line' | 'message'>): string {
  return `WARNING ${d.file}:${d.line}: ${d.message}`;
}

export function completeImport(result: ImportResult): ImportResult {
  const diagnostics = [...result.diagnostics];
  const services = result.services.map((svc) => {
    const notes = [...svc.notes];
    for (const problem of serviceFields(svc.service).problems) {
      const pos = svc.source ?? { file: result.files[0] ?? '<input>', line: 1, column: 1 };
      diagnostics.push({ severity: 'warning', ...pos, path: '', message: problem });
      notes.push(warningNote({ ...pos, message: problem }));
    }
    return { ...svc, notes: [...new Set(notes)] };
  });
  const claimed = new Set([
    ...services.flatMap((s) => s.notes),
    ...(result.vrrp?.instances.flatMap((i) => i.notes) ?? []),
  ]);
  const fileOrder = (file: string) => result.files.indexOf(file);
  const header = uniqueDiagnostics(diagnostics)
    .filter((d) => d.severity === 'warning')
    .sort((a, b) => fileOrder(a.file) - fileOrder(b.file) || a.line - b.line || a.column - b.column)
    .map(warningNote)
    .filter((note) => !claimed.has(note));
  return {
    ...result,
    services,
    notes: [...new Set([...result.notes, ...header])],
    diagnostics: uniqueDiagnostics(diagnostics).sort(
      (a, b) => fileOrder(a.file) - fileOrder(b.file) || a.line - b.line || a.column - b.column,
    ),
  };
}
