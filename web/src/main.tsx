import { render } from 'preact';
import './styles.css';
import { App } from './app.tsx';
import { initAuth } from './api.ts';
import { initialLang } from './i18n/index.ts';

initAuth(location.pathname.startsWith('/wall/'));
const root = document.getElementById('app')!;
root.textContent = ''; // the boot text
render(<App initialLang={initialLang()} />, root);
