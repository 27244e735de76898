/* bcryptprimitives.dll for Wine 8.0, which lacks ProcessPrng: Rust's std imports it, so no
 * Rust .exe loads without it. Built by .ci/wine/runner with mingw and put beside each
 * test binary; it fills the buffer from RtlGenRandom, as ProcessPrng does on Windows. */
#include <windows.h>
/* RtlGenRandom is exported by advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
