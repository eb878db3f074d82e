// What the management pages share: the caller's rights in the org, the section tabs, forms that
// show the server's error next to the field it names, a signal that the org's structure changed,
// and the list card's parts (notes, table with an administrators' actions column, archive/restore).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import { api, ApiError, type OrgDetail } from '../../api.ts';
import { useOrg, orgChanged } from '../../org.tsx';
import { useData } from '../../data.ts';
import { ErrorNote } from '../../components.tsx';
import { Link, useLocation } from '../../router.ts';
import './manage.css';

export type Access = { role: string; canAdmin: boolean; canPlace: boolean };
/** GET /orgs/{org} says what the caller may do; the pages hide write controls accordingly (the server enforces anyway). */
export function useAccess(): Access {
  const you = (useOrg().org as OrgDetail & { you?: Access }).you;
  return you ?? { role: 'viewer', canAdmin: false, canPlace: false };
}

export const orgApi = (org: string, rest = ''): string => `/api/v1/orgs/${encodeURIComponent(org)}${rest}`;
export const send = <T,>(method: string, path: string, json?: unknown): Promise<T> => api<T>(path, { method, ...(json === undefined ? {} : { json }) });

export const SECTIONS = ['locations', 'touchpoints', 'employees', 'devices', 'scoring'] as const;
export type Section = (typeof SECTIONS)[number];

export function ManageNav({ section }: { section: Section }) {
  const { t } = useI18n();
  const s = useOrg();
  const access = useAccess();
  const { path } = useLocation();
  return (
    <>
      <nav class="subtabs" aria-label={t.manage.sectionsLabel}>
        {SECTIONS.map((k) => {
          const href = `/orgs/${s.org.id}/manage/${k}`;
          return <Link href={href} aria-current={path === href ? 'page' : undefined}>{t.manage.sections[k]}</Link>;
        })}
      </nav>
      <div class="toolbar"><h1>{t.manage.sections[section]}</h1></div>
      {access.canAdmin ? null : <p class="note-box muted">{t.manage.readOnly}</p>}
    </>
  );
}

/** Does the server's error name this field (or something inside it, e.g. openingHours.mon[0])? */
export function names(err: ApiError | null, field: string, exact = false): boolean {
  const f = err?.field;
  if (!f) return false;
  return f === field || (!exact && (f.startsWith(`${field}.`) || f.startsWith(`${field}[`)));
}

/** aria attributes for an input whose field the error names. */
export function invalid(err: ApiError | null, field: string, id: string, exact = false): Record<string, string | boolean | undefined> {
  return names(err, field, exact) ? { 'aria-invalid': true, 'aria-describedby': `${id}-err` } : {};
}

export function FieldError({ err, field, id, exact }: { err: ApiError | null; field: string; id: string; exact?: boolean }) {
  if (!names(err, field, exact)) return null;
  return <span class="field-error" id={`${id}-err`}>{err!.message}</span>;
}

/** A labelled input with its hint and, when the server named it, its error right below. */
export function Field({ label, hint, err, field, id, children }: { label: string; hint?: string; err: ApiError | null; field: string; id: string; children: ComponentChildren }) {
  return (
    <div class="mfield">
      <label for={id}>{label}</label>
      {children}
      {hint ? <span class="hint muted">{hint}</span> : null}
      <FieldError err={err} field={field} id={id} />
    </div>
  );
}

/** Runs a write: busy while it runs, the error (with the field it names) or a done message after. */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  async function run<T>(fn: () => Promise<T>, okMessage: string | ((r: T) => string) | null = null, structure = false): Promise<T | undefined> {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await fn();
      setDone(typeof okMessage === 'function' ? okMessage(r) : okMessage);
      if (structure) orgChanged();
      return r;
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'client', String(e)));
      // Keyboard users land on the field the server named, its message right below it.
      requestAnimationFrame(() => document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  const reset = (): void => { setError(null); setDone(null); };
  return { busy, error, done, run, reset };
}

/** The form's outcome: an error not tied to a shown field, or the done message. */
export function Outcome({ error, done, shown }: { error: ApiError | null; done: string | null; shown: string[] }) {
  const { t } = useI18n();
  if (error) {
    const onField = shown.some((f) => names(error, f));
    return <p class="error" role="alert">{onField ? t.manage.fixField : error.message}</p>;
  }
  return done ? <p class="ok" role="status">{done}</p> : <p class="sr" role="status" />;
}

/** A form opened by a button further down the page takes the keyboard focus (and scrolls into view). */
export function useFocusOnOpen<T extends HTMLElement>(enabled = true) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (!enabled) return;
    const first = ref.current?.querySelector<HTMLElement>('input, select, textarea, button');
    first?.focus();
    ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, []);
  return ref;
}

/** The form's submit button (Save, or `label`) and, when it can be closed, Cancel. */
export function FormActions({ busy, label, onCancel }: { busy: boolean; label?: string; onCancel?(): void }) {
  const { t } = useI18n();
  return (
    <div class="form-actions">
      <button type="submit" disabled={busy}>{label ?? (busy ? t.manage.saving : t.manage.save)}</button>
      {onCancel ? <button type="button" class="secondary" onClick={onCancel}>{t.manage.cancel}</button> : null}
    </div>
  );
}

type Archivable = { id: string; archivedAt: string | null };
/**
 * A list whose rows are archived, never deleted (locations, touchpoints): its rows (the archived
 * ones too on request), which row is being edited ('new' = the add form), and archive/restore.
 */
export function useArchivableList<T extends Archivable>(resource: string) {
  const { t } = useI18n();
  const s = useOrg();
  const [archived, setArchived] = useState(false);
  const [version, setVersion] = useState(0);
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const list = useData(() => send<{ rows: T[] }>('GET', orgApi(s.org.id, `/${resource}${archived ? '?archived=true' : ''}`)).then((r) => r.rows), [s.org.id, archived, version]);
  const act = useSubmit();
  const current = editing && editing !== 'new' ? list.data?.find((x) => x.id === editing) : undefined;
  const saved = (): void => { setEditing(null); setVersion((v) => v + 1); };
  const toggleArchive = (row: T): void => {
    void act.run(() => send('PATCH', orgApi(s.org.id, `/${resource}/${row.id}`), { archived: !row.archivedAt }), t.manage.saved, true).then((r) => { if (r) setVersion((v) => v + 1); });
  };
  return { archived, setArchived, editing, setEditing, current, saved, list, act, toggleArchive };
}

/** The "show archived" switch in a list card's header. */
export function ShowArchived({ checked, onChange }: { checked: boolean; onChange(v: boolean): void }) {
  const { t } = useI18n();
  return <label class="field"><input type="checkbox" checked={checked} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} /> {t.manage.showArchived}</label>;
}

/** An administrator's button above a list that opens its add form. */
export function AddButton({ label, onClick }: { label: string; onClick(): void }) {
  return <p><button type="button" onClick={onClick}>{label}</button></p>;
}

/** Above a list's table: why it did not load, the outcome of the last row action, or that it is empty. */
export function ListNotes({ error, act, rows, empty }: { error?: unknown; act?: { error: ApiError | null; done: string | null }; rows: unknown[] | undefined; empty: string }) {
  return (
    <>
      <ErrorNote error={error} />
      {act ? <Outcome error={act.error} done={act.done} shown={[]} /> : null}
      {rows && !rows.length ? <p class="empty">{empty}</p> : null}
    </>
  );
}

/** A list's table: its column headings, plus the actions column when the caller administers. */
export function MTable({ cols, actions, busy, class: cls, children }: { cols: string[]; actions?: boolean; busy: boolean; class?: string; children: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <div class="table-wrap">
      <table class={`grid mtable${cls ? ` ${cls}` : ''}`} aria-busy={busy}>
        <thead><tr>
          {cols.map((c) => <th scope="col">{c}</th>)}
          {actions ? <th scope="col">{t.manage.actions}</th> : null}
        </tr></thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A row's actions cell. */
export function RowActions({ children }: { children: ComponentChildren }) {
  return <td><div class="row-actions">{children}</div></td>;
}

/** Archive, or restore an archived row. */
export function ArchiveButton({ archived, busy, onClick }: { archived: boolean; busy: boolean; onClick(): void }) {
  const { t } = useI18n();
  return <button type="button" class="small secondary" disabled={busy} onClick={onClick}>{archived ? t.manage.restore : t.manage.archive}</button>;
}
