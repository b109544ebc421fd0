/**
 * FROZEN: nothing under mutants/unseen2/ changes after its first commit.
 *
 * The second frozen set of unseen mutants (README.md here says who wrote it and from what), in a
 * fixed order: machine-level mutants by base, then the system-call level.
 */
import type { UnseenMutant } from '../unseen/types.ts';
import { apiTranslationCommitUnchecked } from './api-translation-commit-unchecked.ts';
import { apiTranslationPrefixDropped } from './api-translation-prefix-dropped.ts';
import { btKernelLoadFromHypervisorArea } from './bt-kernel-load-from-hypervisor-area.ts';
import { btKernelLoadsAllTranslated } from './bt-kernel-loads-all-translated.ts';
import { btPushfLeftUntranslated } from './bt-pushf-left-untranslated.ts';
import { btStiOpensWindowAtOnce } from './bt-sti-opens-window-at-once.ts';
import { containerQuotaOffByOne } from './container-quota-off-by-one.ts';
import { eptBridgeTxAddressUnchecked } from './ept-bridge-tx-address-unchecked.ts';
import { eptIoExitClearsStatusFlags } from './ept-io-exit-clears-status-flags.ts';
import { eptVirtioRingsShareAPage } from './ept-virtio-rings-share-a-page.ts';
import { passthroughDmaFaultReportedDone } from './passthrough-dma-fault-reported-done.ts';
import { passthroughMsiDataPassedWhole } from './passthrough-msi-data-passed-whole.ts';
import { shadowCr3ReloadKeepsTlb } from './shadow-cr3-reload-keeps-tlb.ts';
import { shadowFillIgnoresCleanPte } from './shadow-fill-ignores-clean-pte.ts';
import { shadowZapAllOnWriteExit } from './shadow-zap-all-on-write-exit.ts';
import { sriovDmaReadsUntranslated } from './sriov-dma-reads-untranslated.ts';
import { sriovMsiAddressReadLeaksHandle } from './sriov-msi-address-read-leaks-handle.ts';
import { vmShadowInvlpgSkipsInvvpid } from './vm-shadow-invlpg-skips-invvpid.ts';
import { vmdqBroadcastReflectedToSender } from './vmdq-broadcast-reflected-to-sender.ts';
import { vmdqDmaRestartWhileBusy } from './vmdq-dma-restart-while-busy.ts';
import { vmdqSpoofCheckUsesCurrentMac } from './vmdq-spoof-check-uses-current-mac.ts';
import { xenPvNetbackMacLockUnicastOnly } from './xen-pv-netback-mac-lock-unicast-only.ts';
import { xenPvPopfKeepsWindowClosed } from './xen-pv-popf-keeps-window-closed.ts';
import { xenPvSmswNotParavirtualized } from './xen-pv-smsw-not-paravirtualized.ts';

/** Every mutant of the second unseen set. */
export const UNSEEN2_MUTANTS: readonly UnseenMutant[] = Object.freeze([
  shadowFillIgnoresCleanPte,
  shadowCr3ReloadKeepsTlb,
  shadowZapAllOnWriteExit,
  eptIoExitClearsStatusFlags,
  eptVirtioRingsShareAPage,
  eptBridgeTxAddressUnchecked,
  passthroughDmaFaultReportedDone,
  passthroughMsiDataPassedWhole,
  sriovDmaReadsUntranslated,
  sriovMsiAddressReadLeaksHandle,
  vmdqDmaRestartWhileBusy,
  vmdqSpoofCheckUsesCurrentMac,
  vmdqBroadcastReflectedToSender,
  btPushfLeftUntranslated,
  btKernelLoadFromHypervisorArea,
  btStiOpensWindowAtOnce,
  btKernelLoadsAllTranslated,
  xenPvSmswNotParavirtualized,
  xenPvNetbackMacLockUnicastOnly,
  xenPvPopfKeepsWindowClosed,
  containerQuotaOffByOne,
  apiTranslationPrefixDropped,
  apiTranslationCommitUnchecked,
  vmShadowInvlpgSkipsInvvpid,
]);
