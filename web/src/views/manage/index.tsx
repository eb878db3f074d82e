// The "Manage" section of an organisation: /orgs/{org}/manage/{section}.
import { useI18n } from '../../i18n/index.ts';
import { SECTIONS, type Section } from './common.tsx';
import { Locations } from './Locations.tsx';
import { Touchpoints } from './Touchpoints.tsx';
import { Employees } from './Employees.tsx';
import { Devices } from './Devices.tsx';
import { Scoring } from './Scoring.tsx';

export function Manage({ section }: { section: string }) {
  const { t } = useI18n();
  if (!(SECTIONS as readonly string[]).includes(section)) return <p class="empty">{t.app.notFound}</p>;
  const s = section as Section;
  return s === 'locations' ? <Locations /> : s === 'touchpoints' ? <Touchpoints /> : s === 'employees' ? <Employees /> : s === 'devices' ? <Devices /> : <Scoring />;
}
