/**
 * Scenarios for interrupt remapping: the hosted scenarios of `arbScenario` with, in some guests'
 * runs, a DMA write to the interrupt range (devices.ts: a message the device sends as written,
 * VT-d §5.1), the way a guest that owns a device forges an MSI ("Following the White Rabbit",
 * Wojtczuk & Rutkowska 2011). Not in the default scenarios: on bare metal every such message is
 * an interrupt for the guest itself, which interrupt remapping refuses by design, so equivalence
 * does not hold for them; isolation and resource control must.
 */
import fc from 'fast-check';
import {
  DMA_CMD,
  DMA_PORT_BASE,
  DMA_REG,
  IRTES_PER_DEVICE,
  MSI_ADDRESS_BASE,
  type Op,
  remappableMsiAddress,
} from '../model/index.ts';
import { arbScenario, type Scenario, type ScenarioOptions } from './host.ts';
import { MSI_VECTORS } from './io.ts';

/**
 * Interrupt-range addresses: compatibility format (destination 0, a reserved bit or none), and
 * remappable format naming the hypervisors' IRTE blocks (handle 256 n + v, or 256 n with SHV),
 * past the table, or a not-present entry. Bits 1:0 shrink toward START | TO_MEMORY (3), so one
 * register value can be both the address and the command.
 */
export const arbInterruptAddress: fc.Arbitrary<number> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(MSI_ADDRESS_BASE | 0x20, MSI_ADDRESS_BASE),
      fc
        .tuple(fc.nat({ max: 3 }), fc.constantFrom(...MSI_VECTORS), fc.boolean())
        .map(([n, v, shv]) => remappableMsiAddress(n * IRTES_PER_DEVICE + (shv ? 0 : v), shv)),
      fc.constantFrom(remappableMsiAddress(0x7fff, false), remappableMsiAddress(0xffff, false)),
    ),
    fc.integer({ min: 0, max: 3 }).map((x) => 3 - x),
  )
  .map(([a, junk]) => (a | junk) >>> 0);

const out = (reg: number): Op => ({ kind: 'out', port: DMA_PORT_BASE + reg });

/**
 * A forged message: DATA, ADDRESS in the interrupt range, START | TO_MEMORY, the completion. DATA
 * shrinks toward the address's own value (0xFEE00023 is a compatibility-format address whose bits
 * 7:0 are a valid vector and bits 1:0 START | TO_MEMORY: one register value for all three), then
 * a vector, or 0 (subhandle 0).
 */
export const arbForgedMsi: fc.Arbitrary<Op[]> = fc
  .tuple(arbInterruptAddress, fc.oneof(fc.constant(undefined), fc.constantFrom(...MSI_VECTORS), fc.constant(0)))
  .map(([address, d]) => [address, d ?? address] as const)
  .map(([address, data]) => [
    { kind: 'movImm', dst: 0, imm: data },
    out(DMA_REG.DATA),
    { kind: 'movImm', dst: 0, imm: address },
    out(DMA_REG.ADDRESS),
    { kind: 'movImm', dst: 0, imm: DMA_CMD.START | DMA_CMD.TO_MEMORY },
    out(DMA_REG.COMMAND),
    { kind: 'dmaComplete', device: 0 },
  ]);

/** Hosted scenarios (two guests at least) with forged messages spliced in at random points. */
export const arbMsiScenario = (o: ScenarioOptions = {}): fc.Arbitrary<Scenario> =>
  fc
    .record({
      base: arbScenario({ ...o, minGuests: Math.max(2, o.minGuests ?? 2), maxOps: o.maxOps ?? 12 }),
      forged: fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 24 }), arbForgedMsi), {
        minLength: 1,
        maxLength: 2,
      }),
    })
    .map(({ base, forged }) => {
      const ops = [...base.ops];
      for (const [guest, at, run] of forged)
        ops.splice(Math.min(at, ops.length), 0, ...run.map((op) => ({ guest: guest % base.guests.length, op })));
      return { ...base, ops };
    });
