// /setup/{secret}: the first instance administrator (the link `loyalty start` prints). The form is the invite's plus an email.
import { Invite } from './Invite.tsx';

export function Setup({ secret }: { secret: string }) {
  return <Invite secret={secret} kind="setup" />;
}
