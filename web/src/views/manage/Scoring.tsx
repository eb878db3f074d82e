// Score thresholds: the minimum sample and the lowest share of scores 2–5, with a preview of which
// share gets which score colour (the same mapping the server applies, src/domain/wilson.ts).
import { useState } from 'preact/hooks';
import { useI18n } from '../../i18n/index.ts';
import { useOrg } from '../../org.tsx';
import { Card } from '../../components.tsx';
import { Field, FieldError, FormActions, invalid, ManageNav, orgApi, Outcome, send, useAccess, useSubmit } from './common.tsx';

export function Scoring() {
  const { t, n, pct: pct1 } = useI18n();
  // Whole percentages without decimals ("95 %"), others with one ("82.5 %").
  const pct = (x: number): string => pct1(x, Math.abs(x * 100 - Math.round(x * 100)) < 1e-9 ? 0 : 1);
  const s = useOrg();
  const access = useAccess();
  const [minSample, setMinSample] = useState(String(s.scoring.minSample));
  // Percent in the form, fractions on the wire.
  const [th, setTh] = useState(s.scoring.thresholds.map((x) => String(Math.round(x * 1000) / 10)));
  const sub = useSubmit();
  const fractions = th.map((x) => Number(x) / 100);
  const valid = fractions.every((x, i) => Number.isFinite(x) && x >= 0 && x <= 1 && (i === 0 || x >= fractions[i - 1]!));
  const submit = (e: Event): void => {
    e.preventDefault();
    void sub.run(() => send('PUT', orgApi(s.org.id, '/scoring'), { minSample: Number(minSample), thresholds: fractions }), t.manage.saved, true);
  };
  // Bands: score 1 below t0, score k from t[k-2] up to the next threshold.
  const edges = [0, ...fractions, 1];
  const bands = [1, 2, 3, 4, 5].map((score) => ({ score, from: edges[score - 1]!, to: edges[score]! }));
  return (
    <>
      <ManageNav section="scoring" />
      <Card title={t.manage.sections.scoring} id="manage-scoring">
        <form class="mform" onSubmit={submit} noValidate>
          <div class="mgrid">
            <Field label={t.manage.scoring.minSample} hint={t.manage.scoring.minSampleHint} err={sub.error} field="minSample" id="sc-min">
              <input id="sc-min" type="number" inputMode="numeric" min={1} value={minSample} disabled={!access.canAdmin}
                onInput={(e) => setMinSample((e.currentTarget as HTMLInputElement).value)} {...invalid(sub.error, 'minSample', 'sc-min')} />
            </Field>
          </div>
          <fieldset class="hours-set">
            <legend class="mlabel">{t.manage.scoring.thresholds}</legend>
            <div class="mgrid">
              {th.map((v, i) => (
                <div class="mfield">
                  <label for={`sc-t${i}`}>{t.manage.scoring.from(i + 2)} (%)</label>
                  <input id={`sc-t${i}`} type="number" inputMode="decimal" min={0} max={100} step={0.1} value={v} disabled={!access.canAdmin}
                    onInput={(e) => { const x = (e.currentTarget as HTMLInputElement).value; setTh((list) => list.map((y, j) => (j === i ? x : y))); }}
                    {...invalid(sub.error, 'thresholds', 'sc-th')} />
                </div>
              ))}
            </div>
            <FieldError err={sub.error} field="thresholds" id="sc-th" />
          </fieldset>
          <h3 class="mlabel">{t.manage.scoring.preview}</h3>
          <p class="hint muted">{t.manage.scoring.previewHint}</p>
          {valid ? (
            <>
              <div class="scale" role="img" aria-label={bands.map((b) => t.manage.scoring.band(b.score, pct(b.from), pct(b.to))).join('; ')}>
                {bands.map((b) => <span class={`s${b.score}`} style={{ width: `${(b.to - b.from) * 100}%` }}>{b.to - b.from >= 0.04 ? b.score : ''}</span>)}
              </div>
              <ul class="bands">
                {bands.slice().reverse().map((b) => <li><span class={`badge s${b.score}`} aria-hidden="true">{b.score}</span> {t.manage.scoring.band(b.score, pct(b.from), pct(b.to))}</li>)}
                <li><span class="badge" aria-hidden="true">—</span> {t.manage.scoring.below(n(Number(minSample) || 0))}</li>
              </ul>
            </>
          ) : null}
          <Outcome error={sub.error} done={sub.done} shown={['minSample', 'thresholds']} />
          {access.canAdmin ? <FormActions busy={sub.busy} /> : null}
        </form>
      </Card>
    </>
  );
}
