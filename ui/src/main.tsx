import { render } from 'preact';
import { App } from './App';
import { lang } from './i18n';
import { installRouter } from './state';
import './styles.css';

document.documentElement.lang = lang();
installRouter();
render(<App />, document.getElementById('app')!);
