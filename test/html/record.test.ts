/**
 * The trace record (properties/record/): translation paths, the real TLB, DMA through the IOMMU and
 * the JSON every rendering reads. Expected addresses are derived by hand from the boot layout
 * (model/boot.ts: frame 0 the page directory, frame 1 + d the page table of slot d, then the system
 * page, then data frame system + 1 + d * tableEntries + t for window page (d, t)) and the host layout
 * (model/host/layout.ts: guest g's GPA x is HPA guestBase(g) * 4096 + x; guest g's pool starts at
 * frame 64 (g + 1) with the shadow directory at +0, the EPT root at +1 and the EPT table at +2).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_GEOMETRY, ept, guestBase, linear, passthrough, shadow } from 'hyperprop';
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../generators/host.ts';
import { plainGuestSpec } from '../../generators/reference.ts';
import { recordTrace } from '../../properties/record/machine.ts';
import { replayText } from '../../properties/record/text.ts';
import type { TraceRecord, WalkRecord } from '../../properties/record/types.ts';
import { hyperprop, ROOT, tempDir } from '../cli/support.ts';

const G = DEFAULT_GEOMETRY; // 4 directory slots x 4 table entries, 32 frames
const HOST = { guests: 1, guestGeometry: G, tlbCapacity: 1024 };
const BASE = guestBase(HOST, 0) * 4096; // guest 0's GPA 0 in host memory
const VA = linear(1, 1, 2); // window page (1, 1), word 2: 0x00401008
// Hand-derived: PDE 1 at GPA 0x4 points to page table frame 2 (P RW US); PTE 1 of it at GPA 0x2004
// points to data frame 5 + 1 + 1 * 4 + 1 = 11; so the GPA is 0xb008.
const PDE_GPA = 0x4;
const PTE_GPA = 0x2004;
const GPA = 0xb008;

const loads: Scenario = {
  geometry: G,
  guests: [plainGuestSpec(G)],
  ops: [
    { guest: 0, op: { kind: 'load', dst: 0, va: VA } },
    { guest: 0, op: { kind: 'load', dst: 1, va: VA } },
    { guest: 0, op: { kind: 'load', dst: 2, va: VA } },
    { guest: 0, op: { kind: 'invlpg', va: VA } },
  ],
};

const walk = (t: TraceRecord, step: number, role: WalkRecord['role']) =>
  t.steps[step]!.access!.walks.find((w) => w.role === role)!;

describe('the trace record', () => {
  it('shadow paging: the guest walk, the guest region and the shadow walk end at the same host frame', () => {
    const t = recordTrace(shadow, loads, undefined);
    expect(t.level).toBe('machine');
    expect(t.steps).toHaveLength(4);
    const guest = walk(t, 1, 'guest');
    expect(guest.entries.map((e) => [e.name, e.at.space, e.at.value])).toEqual([
      ['PDE', 'GPA', PDE_GPA],
      ['PTE', 'GPA', PTE_GPA],
    ]);
    expect(guest.end).toMatchObject({ ok: true, output: { space: 'GPA', value: GPA } });
    expect(walk(t, 1, 'region').end).toMatchObject({ ok: true, output: { space: 'HPA', value: BASE + GPA } });
    // The first load filled the shadow tables (a hidden fault); the second walks them to the same frame.
    const sh = walk(t, 1, 'shadow');
    expect(sh.entries[0]!.at).toEqual({ space: 'HPA', value: 64 * 4096 + 1 * 4 }); // shadow directory, slot 1
    expect(sh.end).toMatchObject({ ok: true, output: { space: 'HPA', value: BASE + GPA }, owner: { own: true } });
    expect(t.steps[1]!.access!.mismatch).toBeUndefined();
  });

  it('the real TLB: a load the real CPU runs caches GVA page -> host frame; the next uses it; INVLPG drops it', () => {
    const t = recordTrace(shadow, loads, undefined);
    const page = { gva: VA & ~0xfff, hpa: (BASE + GPA) & ~0xfff };
    // Load 0 meets empty shadow tables: a hidden #PF, and the hypervisor fills the entry and emulates
    // the load, so the real CPU caches nothing; load 1 runs natively and walks the shadow tables.
    expect(t.steps[0]!.ran?.kind).toBe('trap');
    expect(t.steps[0]!.tlb!.entries).toEqual([]);
    expect(t.steps[1]!.ran?.kind).toBe('native');
    expect(t.steps[1]!.tlb!.entries).toEqual([expect.objectContaining({ ...page, change: 'added' })]);
    expect(t.steps[2]!.access!.tlbHit).toMatchObject(page);
    expect(t.steps[2]!.tlb!.entries).toEqual([expect.objectContaining({ ...page, change: 'kept' })]);
    // SDM §4.10.4.1: INVLPG invalidates the page's TLB entries.
    expect(t.steps[3]!.tlb!.entries).toEqual([expect.objectContaining({ ...page, change: 'dropped' })]);
  });

  it('EPT: the two-dimensional walk reads each guest entry through EPT, then EPT translates the GPA', () => {
    const t = recordTrace(ept, loads, undefined);
    // The processor walks the guest's own tables: recorded once, each read with its EPT walk.
    expect(t.steps[0]!.access!.walks.map((w) => w.role)).toEqual(['real', 'ept']);
    const real = walk(t, 0, 'real');
    const eptRoot = 65 * 4096;
    const eptTable = 66 * 4096;
    expect(real.entries.map((e) => e.via!.end)).toEqual([
      expect.objectContaining({ ok: true, output: { space: 'HPA', value: BASE + PDE_GPA } }),
      expect.objectContaining({ ok: true, output: { space: 'HPA', value: BASE + PTE_GPA } }),
    ]);
    // The PTE's GPA 0x2004 is guest frame 2: EPT PDE 0 at the root, EPT PTE 2 in the EPT table.
    expect(real.entries[1]!.via!.entries.map((e) => [e.name, e.at.value])).toEqual([
      ['EPT PDE', eptRoot],
      ['EPT PTE', eptTable + 2 * 4],
    ]);
    const e = walk(t, 0, 'ept');
    expect(e.input).toEqual({ space: 'GPA', value: GPA });
    expect(e.entries.map((x) => x.at.value)).toEqual([eptRoot, eptTable + 11 * 4]);
    expect(e.end).toMatchObject({ ok: true, output: { space: 'HPA', value: BASE + GPA }, owner: { own: true } });
  });

  it('passthrough: a DMA walks the device’s IOMMU domain to the guest’s frame', () => {
    const s: Scenario = {
      geometry: G,
      guests: [{ ...plainGuestSpec(G), devices: 1, regs: [0x3008, 0x5a5a, 3, 0] }],
      ops: [
        { guest: 0, op: { kind: 'out', port: 0x40 } }, // ADDRESS = EAX = 0x3008
        { guest: 0, op: { kind: 'add', dst: 0, src: 2 } }, // EAX = 0x300b: COMMAND = START | TO_MEMORY
        { guest: 0, op: { kind: 'out', port: 0x42 } },
        { guest: 0, op: { kind: 'dmaComplete', device: 0 } },
      ],
    };
    const t = recordTrace(passthrough, s, undefined);
    const dma = t.steps[3]!.access!;
    expect(dma).toMatchObject({ what: 'DMA write by device 0', address: { space: 'IOVA', value: 0x3008 } });
    // First where the guest's own machine puts it (its GPA, in its region), then the IOMMU's walk.
    expect(dma.walks.map((w) => w.role)).toEqual(['region', 'iommu']);
    expect(dma.walks[0]!.end).toMatchObject({ ok: true, output: { space: 'HPA', value: BASE + 0x3008 } });
    const w = dma.walks[1]!;
    // The domain's root and table are guest 0's pool frames 6 and 7 (model/host/machine.ts POOL).
    expect(w.entries.map((e) => e.at.value)).toEqual([70 * 4096, 71 * 4096 + 3 * 4]);
    expect(w.end).toMatchObject({ ok: true, output: { space: 'HPA', value: BASE + 0x3008 }, owner: { own: true } });
    // The engine wrote DATA (0x300b, after the ADD: the job latched ADDRESS 0x3008 and DATA at START).
    expect(t.steps[3]!.host!.memory).toContainEqual(expect.objectContaining({ hpa: BASE + 0x3008 }));
    expect(dma.mismatch).toBeUndefined();
  });

  it('the replay text is made from the record (it names the walks it holds)', () => {
    const t = recordTrace(shadow, loads, undefined);
    const text = replayText(t);
    expect(text).toContain(`access:    data read, GVA ${'0x00401008'}`);
    expect(text).toContain('shadow page tables');
  });
});

describe('replay --reporter json and replay --html carry the same record', () => {
  it('the page embeds exactly the trace the JSON report holds; a DMA counterexample keeps its device', async () => {
    const fixtures = join(ROOT, 'test/html/fixtures');
    const file = join(fixtures, 'saved/passthrough-no-iommu.resource-control.af1dcd1b8bfa9e86.json');
    // The saved file keeps the guest's DMA engine (the schema once dropped it, so it did not replay).
    expect(JSON.parse(readFileSync(file, 'utf8')).initial.guests[0].devices).toBe(1);
    const out = join(tempDir(), 'page.html');
    const design = join(fixtures, 'passthrough-no-iommu.ts');
    const [json, html] = await Promise.all([
      hyperprop(['replay', file, '--design', design, '--reporter', 'json']),
      hyperprop(['replay', file, '--design', design, '--html', out]),
    ]);
    expect(json.status).toBe(1);
    expect(html.status).toBe(1);
    const [r] = JSON.parse(json.stdout);
    expect(r.status).toBe('fails');
    expect(r.trace.steps).toHaveLength(3);
    const page = readFileSync(out, 'utf8');
    const embedded = /<script type="application\/json" id="trace-data">(.*?)<\/script>/s.exec(page)![1]!;
    expect(JSON.parse(embedded).trace).toEqual(r.trace);
    // Self-contained: no external script, style, image or link.
    expect(page).not.toMatch(/<(script|img|iframe)[^>]*\ssrc=/i);
    expect(page).not.toMatch(/<link[^>]*rel="stylesheet"/i);
    expect(page).toContain("default-src 'none'");
  });

  it('check --html writes a page for every failure', async () => {
    const dir = tempDir();
    const r = await hyperprop([
      'check',
      '--design',
      'classic',
      '--property',
      'equivalence',
      '--seed',
      '3',
      '--runs',
      '50',
      '--no-corpus',
      '--no-out',
      '--html',
      dir,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`1 page(s) written to ${dir}`);
    const page = readFileSync(join(dir, 'classic.equivalence.html'), 'utf8');
    expect(page).toContain('"level":"machine"');
  });
});
