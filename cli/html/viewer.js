// The counterexample viewer: renders the trace record (properties/record/types.ts) embedded in the
// page as JSON. Plain browser JavaScript, no modules, no network: the page is one file.
// Every value shown comes from the record; nothing is computed again here but layout.
(() => {
  const data = JSON.parse(document.getElementById('trace-data').textContent);
  const trace = data.trace;
  const meta = data.meta || {};
  const steps = trace.steps;

  // -------------------------------------------------------------------------------------------
  // Small DOM helpers (text only: data never becomes markup).

  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    if (props)
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    for (const c of children.flat(Number.POSITIVE_INFINITY)) {
      if (c === undefined || c === null || c === false) continue;
      node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  };
  // Unsigned, and exact past 32 bits (addresses grow with IA-32e paging).
  const hex = (n, w = 8) => `0x${(n >= 0 && n <= 0xffffffff ? n >>> 0 : n).toString(16).padStart(w, '0')}`;
  const addr = (a) => el('span', { class: `addr space-${a.space}` }, el('b', { text: a.space }), ` ${hex(a.value)}`);
  const card = (title, cls, ...body) =>
    el('section', { class: `card ${cls || ''}` }, el('h2', { text: title }), ...body);
  const ownerBadge = (o) =>
    o
      ? el(
          'span',
          {
            class: `owner owner-${o.own ? 'own' : o.kind}`,
            title: o.own ? "the stepping guest's own" : o.kind === 'guest' ? "another guest's" : o.kind,
          },
          o.text,
        )
      : null;
  /** One host word a step changed: where, whose, before and after (divergence and host cards). */
  const hostWordRow = (w) =>
    el(
      'tr',
      {},
      el('td', {}, hex(w.hpa)),
      el('td', {}, ownerBadge(w.owner)),
      el('td', { class: 'old' }, hex(w.before)),
      el('td', { class: 'new' }, hex(w.after)),
    );
  const ranBadge = (r) => {
    if (!r) return null;
    const short =
      r.kind === 'native'
        ? 'native'
        : r.kind === 'call'
          ? 'hypervisor'
          : r.reason === 'exception'
            ? `trap #${r.vector}`
            : r.reason === 'instruction'
              ? 'exit'
              : r.reason;
    return el('span', { class: `ran ran-${r.kind}`, title: r.text }, short);
  };

  // -------------------------------------------------------------------------------------------
  // The page's frame: header, step list, controls.

  const divergenceStep = trace.divergence ? trace.divergence.step : -1;
  const position = (index) => steps.findIndex((s) => s.index === index);
  let current = 0;

  const slider = el('input', {
    id: 'slider',
    type: 'range',
    min: 0,
    max: Math.max(0, steps.length - 1),
    value: 0,
    'aria-label': 'step',
  });
  const counter = el('span', { class: 'counter', 'aria-live': 'polite' });
  const button = (label, title, onclick, id) =>
    el('button', { type: 'button', class: 'nav', title, 'aria-label': title, onclick, id }, label);

  const themeButton = button('◐', 'switch light / dark theme (t)', () => toggleTheme(), 'theme');
  const header = el(
    'header',
    { class: 'top' },
    el(
      'div',
      { class: 'headline' },
      el(
        'span',
        { class: `verdict ${trace.divergence ? 'fails' : 'holds'}` },
        trace.divergence ? `fails at step ${divergenceStep}` : 'holds',
      ),
      el('h1', {}, trace.design.name),
      trace.property ? el('span', { class: 'property' }, trace.property) : null,
      el('span', { class: 'level' }, `${trace.level} level`),
    ),
    el(
      'p',
      { class: 'sub' },
      trace.design.description,
      meta.source ? el('span', { class: 'source' }, ` · ${meta.source}`) : null,
      meta.seed !== undefined ? ` · seed ${meta.seed}` : null,
    ),
    el(
      'div',
      { class: 'controls' },
      button('«', 'first step (Home)', () => go(0), 'first'),
      button('◀', 'previous step (←)', () => go(current - 1), 'prev'),
      slider,
      button('▶', 'next step (→)', () => go(current + 1), 'next'),
      button('»', 'last step (End)', () => go(steps.length - 1), 'last'),
      counter,
      trace.divergence
        ? button('⚠ divergence', 'the first divergence (d)', () => go(position(divergenceStep)), 'to-divergence')
        : null,
      themeButton,
    ),
  );

  const stepItems = steps.map((s, i) =>
    el(
      'li',
      {
        class: `step${s.divergence ? ' divergent' : ''}`,
        'data-index': s.index,
        tabindex: -1,
        onclick: () => go(i),
      },
      el('span', { class: 'idx' }, String(s.index)),
      el('span', { class: `guest guest-${s.guest % 8}` }, `g${s.guest}`),
      el('span', { class: 'op' }, s.op.text),
      s.syscall
        ? el('span', { class: `ran ran-${s.syscall.agree ? 'native' : 'trap'}` }, s.syscall.result)
        : ranBadge(s.ran),
      s.divergence ? el('span', { class: 'mark', title: 'first divergence' }, '⚠') : null,
    ),
  );
  const guestsBox = el(
    'div',
    { class: 'guests' },
    el('h2', { text: 'Guests at boot' }),
    trace.guests.map((g) =>
      el(
        'div',
        { class: 'guest-facts' },
        el('span', { class: `guest guest-${g.guest % 8}` }, `g${g.guest}`),
        g.facts.map((f) => el('span', { class: 'fact' }, el('i', {}, f.name), ` ${f.value}`)),
      ),
    ),
    el('h2', { text: 'Design' }),
    el(
      'div',
      { class: 'guest-facts' },
      trace.design.facts.map((f) => el('span', { class: 'fact' }, el('i', {}, f.name), ` ${f.value}`)),
    ),
  );
  const list = el('ol', { class: 'steps', 'aria-label': 'steps' }, stepItems);
  const nav = el(
    'nav',
    { class: 'side' },
    el('h2', { text: `Steps (${steps.length} of ${trace.operations})` }),
    list,
    guestsBox,
  );
  const main = el('main', { id: 'step' });
  const keys = el(
    'footer',
    { class: 'keys' },
    'Keys: ← → (or j k) step · Home End first, last · d divergence · t theme. Made by hyperprop; one file, works offline.',
  );

  // -------------------------------------------------------------------------------------------
  // One step.

  const fieldTable = (rows, heads, cls) =>
    el(
      'table',
      { class: cls || '' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          heads.map((h) => el('th', {}, h)),
        ),
      ),
      el('tbody', {}, rows),
    );

  const entryBox = (e) =>
    el(
      'div',
      { class: 'entry' },
      el('div', { class: 'entry-name' }, `${e.name} [${e.index}]`),
      el('div', { class: 'entry-at' }, '@ ', addr(e.at)),
      el('div', { class: 'entry-value' }, hex(e.value)),
      el('div', { class: 'entry-flags' }, e.flags),
      e.owner ? el('div', {}, ownerBadge(e.owner)) : null,
    );

  // A compact entry, for the EPT walk of a guest table read (one line each).
  const miniEntry = (e) =>
    el(
      'span',
      { class: 'entry mini', title: `${e.name} at ${e.at.space} ${hex(e.at.value)}` },
      el('b', {}, `${e.name} [${e.index}]`),
      ` ${hex(e.value)} `,
      el('span', { class: 'entry-flags' }, e.flags),
    );

  const viaRow = (e) =>
    el(
      'div',
      { class: 'via' },
      el('span', { class: 'via-label' }, `${e.name} [${e.index}] read at `),
      addr(e.via.input),
      e.via.entries.map((x) => [arrow(), miniEntry(x)]),
      arrow(),
      endBox(e.via, true),
    );

  // Where a walk ended; a host frame the stepping guest does not own is marked as an escape.
  const endBox = (w, mini) => {
    if (!w.end.ok) return el('div', { class: `end fault${mini ? ' mini' : ''}` }, w.end.text);
    const o = w.end.owner;
    const escapes = o && !o.own && o.kind !== 'host';
    return el(
      'div',
      { class: `end ok${escapes ? ' escape' : ''}${mini ? ' mini' : ''}` },
      addr(w.end.output),
      mini ? ' ' : el('div', { class: 'rights' }, w.end.rights),
      o ? ownerBadge(o) : null,
    );
  };

  const arrow = () => el('span', { class: 'arrow', 'aria-hidden': 'true' }, '→');

  function walkView(w) {
    const chain = [addr(w.input)];
    if (w.root && w.entries.length === 0) chain.push(arrow(), el('div', { class: 'entry' }, 'root ', addr(w.root)));
    for (const e of w.entries) chain.push(arrow(), entryBox(e));
    chain.push(arrow(), endBox(w));
    const vias = w.entries.filter((e) => e.via);
    return el(
      'div',
      { class: `walk role-${w.role}` },
      el('div', { class: 'walk-title' }, w.title, w.format ? el('span', { class: 'format' }, w.format) : null),
      el('div', { class: 'chain' }, chain),
      vias.length ? el('div', { class: 'vias' }, vias.map(viaRow)) : null,
    );
  }

  const accessCard = (a) =>
    card(
      'Translation of the accessed address',
      'translation',
      el('p', { class: 'what' }, `${a.what}: `, addr(a.address), a.user ? ' (user-mode access)' : ''),
      a.walks.map((w) => walkView(w)),
      a.tlbHit
        ? el(
            'div',
            { class: 'tlb-hit' },
            el('b', {}, 'Real TLB hit'),
            ` tag ${a.tlbHit.tag}: GVA ${hex(a.tlbHit.gva)} → HPA ${hex(a.tlbHit.hpa)} (${a.tlbHit.rights}) `,
            ownerBadge(a.tlbHit.owner),
            ' — the real CPU uses this entry and does not walk.',
          )
        : null,
      a.mismatch ? el('div', { class: 'mismatch' }, el('b', {}, 'Mismatch: '), a.mismatch) : null,
    );

  // What the left column of the verdict holds, by property.
  const permittedHead = () => {
    const p = trace.property;
    if (p === 'isolation') return trace.level === 'syscall' ? 'alone (the others yield)' : 'alone (the others idle)';
    if (p === 'resource-control') return 'the invariant permits';
    if (p === 'efficiency') return 'the mechanism needs';
    if (trace.level === 'syscall') return 'its own kernel alone';
    return 'bare metal permitted';
  };

  const divergenceCard = () => {
    const d = trace.divergence;
    const rows = d.fields
      ? d.fields.map((f) => el('tr', {}, el('th', {}, f.field), el('td', {}, f.permitted), el('td', {}, f.produced)))
      : d.expected || d.actual
        ? [
            el(
              'tr',
              {},
              el('th', {}, d.guest !== undefined ? `guest ${d.guest}` : ''),
              el('td', {}, d.expected || '—'),
              el('td', {}, d.actual || '—'),
            ),
          ]
        : [];
    // Without a value to set beside another, what the design produced is in host memory: the words
    // the step changed in frames that are not the guest's own.
    const s = steps[position(d.step)];
    const escaped = !rows.length && s?.host ? s.host.memory.filter((w) => !w.owner.own) : [];
    return card(
      `First divergence${d.guest !== undefined ? ` (guest ${d.guest})` : ''}`,
      'divergence-card',
      el('p', { class: 'message' }, d.message),
      rows.length ? fieldTable(rows, ['', permittedHead(), 'design produced'], 'verdict-table') : null,
      escaped.length
        ? fieldTable(escaped.map(hostWordRow), [
            'host memory outside the guest’s own, changed',
            'whose',
            'before',
            'after',
          ])
        : null,
    );
  };

  const changesTable = (s) =>
    s.changes.length
      ? fieldTable(
          s.changes.map((c) =>
            el(
              'tr',
              {},
              el('th', {}, c.field),
              el('td', { class: 'old' }, c.before),
              el('td', { class: 'new' }, c.after),
            ),
          ),
          ['changed', 'before', 'after'],
          'changes',
        )
      : el(
          'p',
          { class: 'quiet' },
          trace.level === 'syscall' ? 'Nothing changed in its kernel.' : 'No guest-visible change.',
        );

  const stateCard = (s) =>
    trace.level === 'syscall'
      ? card(
          `Guest ${s.guest}'s kernel after the call`,
          'state',
          fieldTable(
            s.state.map((f) =>
              el('tr', { class: f.changed ? 'changed' : '' }, el('th', {}, f.name), el('td', {}, f.value)),
            ),
            ['', 'value'],
            'kv',
          ),
          changesTable(s),
        )
      : card(
          `What guest ${s.guest} sees after the step`,
          'state',
          el(
            'div',
            { class: 'regs' },
            s.state.map((f) =>
              el(
                'div',
                { class: `reg${f.changed ? ' changed' : ''}` },
                el('span', { class: 'reg-name' }, f.name),
                el('span', { class: 'reg-value' }, f.value),
              ),
            ),
          ),
          changesTable(s),
        );

  const referenceCard = (r) =>
    card(
      'What bare metal permitted',
      `reference ${r.matches ? 'match' : 'nomatch'}`,
      el(
        'p',
        {},
        `${r.total} permitted behaviour(s); `,
        el('b', {}, r.matches ? 'the design’s state is among them' : 'the design’s state is NOT among them'),
      ),
      el(
        'ul',
        {},
        r.behaviours.map((b) => el('li', {}, b)),
      ),
      r.total > r.behaviours.length ? el('p', { class: 'quiet' }, `… and ${r.total - r.behaviours.length} more`) : null,
    );

  const tlbCard = (t) =>
    card(
      `Real TLB (${t.entries.filter((e) => e.change !== 'dropped').length}/${t.capacity} after; running tag ${t.tag})`,
      'tlb',
      t.entries.length
        ? fieldTable(
            t.entries.map((e) =>
              el(
                'tr',
                { class: `tlb-${e.change}${e.tag === t.tag ? ' mine' : ''}` },
                el(
                  'td',
                  { class: 'change' },
                  e.change === 'added' ? '+ added' : e.change === 'dropped' ? '− dropped' : 'kept',
                ),
                el('td', {}, String(e.tag)),
                el('td', {}, hex(e.gva)),
                el('td', {}, hex(e.hpa)),
                el('td', {}, e.rights),
                el('td', {}, e.dirty ? 'D' : ''),
                el('td', {}, ownerBadge(e.owner)),
              ),
            ),
            ['', 'tag', 'GVA', 'HPA', 'rights', 'D', 'frame'],
            'tlb-table',
          )
        : el('p', { class: 'quiet' }, 'Empty before and after.'),
    );

  const hostCard = (h) =>
    card(
      'Host memory the step changed',
      'host',
      fieldTable(h.memory.map(hostWordRow), ['HPA', 'whose', 'before', 'after']),
      h.more ? el('p', { class: 'quiet' }, `… and ${h.more} more word(s)`) : null,
    );

  const frames = (fs) => (fs.length ? fs.map((f) => hex(f)).join(' ') : '∅');
  const networkCard = (n) =>
    card(
      'Network: the design beside the ideal switch',
      'network',
      fieldTable(
        n.cards.map((c) =>
          el(
            'tr',
            { class: frames(c.rx) === frames(c.idealRx) ? '' : 'differs' },
            el('th', {}, `g${c.guest}`),
            el('td', {}, `${hex(c.mac, 2)}${c.mac === c.assigned ? '' : ` (assigned ${hex(c.assigned, 2)})`}`),
            el('td', {}, c.promiscuous ? 'yes' : 'no'),
            el('td', { class: 'old' }, frames(c.rxBefore)),
            el('td', { class: 'new' }, frames(c.rx)),
            el('td', {}, frames(c.idealRx)),
          ),
        ),
        ['card', 'MAC', 'promiscuous', 'queue before', 'queue after', 'ideal switch'],
      ),
      el(
        'p',
        {},
        `Sent: ${n.sent.length ? n.sent.map((x) => `g${x.from} ${hex(x.frame)}`).join(', ') : 'nothing'}. `,
        `World received: ${frames(n.world)} (ideal: ${frames(n.idealWorld)}). `,
        `Ideal deliveries: ${n.idealDeliveries.length ? n.idealDeliveries.map((x) => `g${x.guest} ${hex(x.frame)}`).join(', ') : 'none'}.`,
      ),
    );

  const syscallCard = (s) =>
    card(
      'The call',
      `syscall ${s.syscall.agree ? 'match' : 'nomatch'}`,
      fieldTable(
        [el('tr', {}, el('td', {}, s.syscall.result), el('td', {}, s.syscall.reference))],
        ['the design answered', 'its own kernel alone answered'],
      ),
    );

  const opCard = (s) =>
    el(
      'section',
      { class: `card op-card${s.divergence ? ' divergent' : ''}` },
      el(
        'div',
        { class: 'op-line' },
        el('span', { class: 'step-no' }, `step ${s.index}`),
        el('span', { class: `guest guest-${s.guest % 8}` }, `guest ${s.guest}`),
        el('code', { class: 'op-text' }, s.op.text),
        s.ran ? ranBadge(s.ran) : null,
      ),
      s.ran
        ? el(
            'p',
            { class: 'how' },
            `How the design ran it: ${s.ran.text}`,
            s.ran.errorCode !== undefined ? `, error code ${hex(s.ran.errorCode, 4)}` : '',
            s.ran.address !== undefined ? `, address ${hex(s.ran.address)}` : '',
            s.ran.phase === 'boundary' ? ', at the instruction boundary after it' : '',
            '.',
          )
        : null,
      s.switchedFrom !== undefined
        ? el('p', { class: 'quiet' }, `The scheduler switched from guest ${s.switchedFrom} to guest ${s.guest} first.`)
        : null,
    );

  const renderStep = (i) => {
    const s = steps[i];
    const top = [opCard(s)];
    if (s.divergence && trace.divergence) top.push(divergenceCard());
    if (s.access) top.push(accessCard(s.access));
    if (s.syscall) top.push(syscallCard(s));
    const grid = [stateCard(s)];
    if (s.reference) grid.push(referenceCard(s.reference));
    if (s.tlb) grid.push(tlbCard(s.tlb));
    if (s.network) grid.push(networkCard(s.network));
    if (s.host) grid.push(hostCard(s.host));
    main.replaceChildren(...top, el('div', { class: 'grid' }, grid));
    main.dataset.step = String(s.index);
  };

  // -------------------------------------------------------------------------------------------
  // Navigation and theme.

  function go(i) {
    if (steps.length === 0) return;
    current = Math.max(0, Math.min(steps.length - 1, i));
    slider.value = String(current);
    counter.textContent = `step ${steps[current].index} · ${current + 1} of ${steps.length}`;
    stepItems.forEach((li, k) => {
      if (k === current) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });
    stepItems[current].scrollIntoView({ block: 'nearest' });
    renderStep(current);
    try {
      history.replaceState(null, '', `#step-${steps[current].index}`);
    } catch {
      // file:// in some browsers refuses replaceState: the hash is a convenience only.
    }
  }

  const root = document.documentElement;
  const prefersDark = () => window.matchMedia?.('(prefers-color-scheme: dark)').matches;
  function setTheme(t) {
    root.dataset.theme = t;
    themeButton.textContent = t === 'dark' ? '☀' : '☾';
    try {
      localStorage.setItem('hyperprop-theme', t);
    } catch {
      // storage may be off for file:// pages: the theme then lasts for this visit.
    }
  }
  function toggleTheme() {
    setTheme(root.dataset.theme === 'dark' ? 'light' : 'dark');
  }
  let saved = null;
  try {
    saved = localStorage.getItem('hyperprop-theme');
  } catch {
    saved = null;
  }
  setTheme(saved === 'dark' || saved === 'light' ? saved : prefersDark() ? 'dark' : 'light');

  slider.addEventListener('input', () => go(Number(slider.value)));
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    // The slider handles its own arrow keys (its input event moves the page).
    if (e.target === slider && ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End'].includes(e.key))
      return;
    const k = e.key;
    if (k === 'ArrowRight' || k === 'ArrowDown' || k === 'j' || k === 'n') go(current + 1);
    else if (k === 'ArrowLeft' || k === 'ArrowUp' || k === 'k' || k === 'p') go(current - 1);
    else if (k === 'Home') go(0);
    else if (k === 'End') go(steps.length - 1);
    else if (k === 'd' && divergenceStep >= 0) go(position(divergenceStep));
    else if (k === 't') toggleTheme();
    else return;
    e.preventDefault();
  });

  document.body.append(header, el('div', { class: 'layout' }, nav, main), keys);
  const fromHash = /^#step-(\d+)$/.exec(location.hash);
  const start = fromHash ? position(Number(fromHash[1])) : divergenceStep >= 0 ? position(divergenceStep) : 0;
  go(Math.max(start, 0));
  root.dataset.rendered = String(Math.round(performance.now()));
})();
