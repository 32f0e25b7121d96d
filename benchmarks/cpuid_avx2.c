/* LD_PRELOAD library for benchmarks/encode.py --emulate avx2: the process sees an AVX2-only x86-64 CPU.
 *
 * Every library picks its kernels from the cpuid instruction (torch's cpuinfo, oneDNN, MKL, fbgemm, ONNX
 * Runtime's MLAS), and only some of them take an environment variable to hold them back. Here cpuid itself
 * answers as an AVX2-only CPU would (a Zen 2: AVX2 + FMA, no AVX-512, no VNNI, no bf16, no AMX): Linux's
 * cpuid faulting (arch_prctl ARCH_SET_CPUID, kernel 4.12+, CPU flag "cpuid_fault") makes every cpuid raise
 * SIGSEGV; the handler runs the real cpuid, clears the features an AVX2-only CPU lacks and resumes after it.
 * The setting is per thread and inherited by the threads a process starts; this constructor runs before any.
 * glibc's own string functions chose their variants before this runs (GLIBC_TUNABLES covers those).
 *
 * Build: gcc -O2 -shared -fPIC -o cpuid_avx2.so cpuid_avx2.c
 * Check: LD_PRELOAD=./cpuid_avx2.so python -c "import torch; print(torch.backends.cpu.get_cpu_capability())"
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

static struct sigaction previous;

static long cpuid_enabled(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

/* Clear what an AVX2-only CPU does not have. r: eax, ebx, ecx, edx of cpuid(leaf, sub). */
static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    if (leaf == 7 && sub == 0) {
        /* ebx: AVX512 F, DQ, IFMA, PF, ER, CD, BW, VL */
        r[1] &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
        /* ecx: AVX512 VBMI, VBMI2, GFNI, VAES, VPCLMULQDQ, VNNI, BITALG, VPOPCNTDQ */
        r[2] &= ~(BIT(1) | BIT(6) | BIT(8) | BIT(9) | BIT(10) | BIT(11) | BIT(12) | BIT(14));
        /* edx: AVX512 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, AVX512-FP16, AMX-TILE, AMX-INT8 */
        r[3] &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~(BIT(4) | BIT(5) | BIT(21) | BIT(23));  /* AVX-VNNI, AVX512-BF16, AMX-FP16, AVX-IFMA */
        r[3] &= ~(BIT(4) | BIT(5) | BIT(8) | BIT(19));   /* AVX-VNNI-INT8, AVX-NE-CONVERT, AMX-COMPLEX, AVX10 */
    } else if (leaf == 0xd && sub == 0) {
        r[0] &= ~(BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18));  /* XSAVE state: AVX-512 and AMX tiles */
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        r[0] = r[1] = r[2] = r[3] = 0;  /* AMX tile and AVX10 information */
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const uint8_t *ip = (const uint8_t *)regs[REG_RIP];
    if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {  /* a faulting cpuid */
        uint32_t r[4], leaf = (uint32_t)regs[REG_RAX], sub = (uint32_t)regs[REG_RCX];
        cpuid_enabled(1);
        __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
        cpuid_enabled(0);
        mask(leaf, sub, r);
        regs[REG_RAX] = r[0];
        regs[REG_RBX] = r[1];
        regs[REG_RCX] = r[2];
        regs[REG_RDX] = r[3];
        regs[REG_RIP] += 2;
        return;
    }
    /* not a cpuid: whoever handled SIGSEGV before, else the default action when the fault repeats */
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != NULL) {
        previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
    }
}

__attribute__((constructor)) static void start(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSEGV, &action, &previous) != 0 || cpuid_enabled(0) != 0) {
        fprintf(stderr, "cpuid_avx2: cpuid faulting is not available here; the CPU is reported as it is\n");
        sigaction(SIGSEGV, &previous, NULL);
    }
}
