// Opens .xlsx files with a real spreadsheet program: LibreOffice headless converts every sheet to
// CSV ("as shown": formatted dates and percentages, formulas evaluated by LibreOffice itself).
// Slow (a few seconds per start), so tests convert all their files in one call.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';

export function officeAvailable(): boolean {
  return spawnSync('soffice', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Sheets of each file as rows of displayed text: result.get(file).get(sheetName). */
export function xlsxSheets(files: string[]): Map<string, Map<string, string[][]>> {
  const profile = mkdtempSync(join(tmpdir(), 'lb-lo-profile-'));
  const outDir = mkdtempSync(join(tmpdir(), 'lb-lo-out-'));
  try {
    // Filter options: comma, double quote, UTF-8, from line 1, …, token 9 "save cell contents as shown", token 12 -1 = every sheet.
    execFileSync('soffice', [`-env:UserInstallation=${pathToFileURL(profile).href}`, '--headless', '--norestore',
      '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1', '--outdir', outDir, ...files],
    { stdio: 'pipe', timeout: 180_000 });
    const out = new Map<string, Map<string, string[][]>>();
    for (const f of files) {
      const stem = basename(f).replace(/\.xlsx$/, '');
      const sheets = new Map<string, string[][]>();
      for (const name of readdirSync(outDir)) {
        if (!name.startsWith(`${stem}-`) || !name.endsWith('.csv')) continue;
        sheets.set(name.slice(stem.length + 1, -4), parse(readFileSync(join(outDir, name), 'utf8'), { relax_column_count: true, bom: true }) as string[][]);
      }
      out.set(f, sheets);
    }
    return out;
  } finally {
    rmSync(profile, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
}
