// DebugLayout.swift — the design document of the debug hooks: block layout and byte values of
// Objects/obmalloc.c (`_PyMem_DebugRawAlloc`, `PYMEM_DEBUG_EXTRA_BYTES`, `ERASED_SIZE`) and
// Include/internal/pycore_pymem.h (`PYMEM_CLEANBYTE` & co., 3.8+; 0xCB/0xDB/0xFB before).
// Handles over these bytes: DebugBlock.swift. Guarded by the DH1 tests; pure constants, no state.

/// Constants of the debug hooks. With S = 8, `b` = what the wrapped allocator returned, `p = b + 16`:
///
///     b[0:8]        N, big-endian
///     b[8]          API id: 'r' 0x72 / 'm' 0x6d / 'o' 0x6f
///     b[9:16]       7 × 0xFD          = p[-7:0], the leading pad
///     b[16:16+N]    data = p[0:N]: 0xCD after malloc, zeros after calloc
///     p[N:N+8]      8 × 0xFD          the trailing pad ("tail" = p + N)
///     p[N+8:N+16]   serial number, big-endian (only with PYMEM_DEBUG_SERIALNO)
///
///     [SSSSSSSS I FFFFFFF CCCC…CCCC FFFFFFFF (NNNNNNNN)]
///     legend: S size, I API id, F forbidden (0xFD), C clean (0xCD) or zero, N serial number
///
/// The wrapped allocator is asked for N + 24 bytes (N + 32 with serial numbers). Free fills the whole
/// block, header included, with 0xDD.
public enum DebugLayout {
  /// `SST`: sizeof(size_t).
  public static let sst = 8
  /// Header bytes before the data: size + id + leading pad (`2 * SST`).
  public static let headerSize = 16
  /// Leading forbidden bytes (`SST - 1`), at p-7 … p-1.
  public static let leadingPadCount = 7
  /// Trailing forbidden bytes (`SST`), at tail+0 … tail+7.
  public static let trailingPadCount = 8
  /// `PYMEM_CLEANBYTE`: data of a new block (malloc, realloc growth); never written by calloc.
  public static let cleanByte: UInt8 = 0xCD
  /// `PYMEM_DEADBYTE`: a freed block, and the parts realloc erases.
  public static let deadByte: UInt8 = 0xDD
  /// `PYMEM_FORBIDDENBYTE`: the pads around the data.
  public static let forbiddenByte: UInt8 = 0xFD
  /// `ERASED_SIZE`: realloc erases (and saves) this many data bytes at each end of a block over 128 bytes;
  /// a block of at most `2 * ERASED_SIZE` bytes is erased whole.
  public static let erasedSize = 64

  /// `PYMEM_DEBUG_EXTRA_BYTES`: 3·S, or 4·S with serial numbers.
  public static func extraBytes(serialNumbers: Bool) -> Int { serialNumbers ? 4 * sst : 3 * sst }
}
