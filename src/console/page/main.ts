/**
 * The console's entry: picks the view from the URL's fragment (`#/agents`,
 * `#/agents/{id}?range=24h`), with the sign-in form until a key is stored for this tab.
 */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ApiClient } from './api-client.js';
import { h, replace } from './dom.js';
import { forgetKey, storedKey } from './session.js';
import { RANGES, type Range } from './types.js';
import { showAgentPage } from './views/agent-page.js';
import { showAgentsList } from './views/agents-list.js';
import { showSignIn } from './views/sign-in.js';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('session-nav') as HTMLElement;

/** What the current view must stop (streams, timers) before the next one starts. */
let stopView: () => void = () => undefined;

function signOut(): void {
  forgetKey();
  // A changed fragment renders through hashchange.
  if (location.hash === '#/') render();
  else location.hash = '#/';
}

function render(): void {
  stopView();
  stopView = () => undefined;
  const key = storedKey();
  if (key === null) {
    replace(nav);
    stopView = showSignIn(main, render);
    return;
  }
  replace(nav, h('button', { type: 'button', class: 'link-button', onclick: signOut }, 'Sign out'));
  const api = new ApiClient(key, signOut);
  const m = /^#\/agents\/([^/?]+)(?:\?range=(\w+))?$/.exec(location.hash);
  const id = m?.[1];
  if (id !== undefined) {
    const asked = m?.[2] as Range | undefined;
    stopView = showAgentPage(main, api, decodeURIComponent(id), asked !== undefined && RANGES.includes(asked) ? asked : '24h');
  } else {
    stopView = showAgentsList(main, api);
  }
}

window.addEventListener('hashchange', render);
render();
