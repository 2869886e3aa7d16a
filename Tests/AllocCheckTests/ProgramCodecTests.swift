// ProgramCodecTests.swift — the op-program layer of Harness: the frozen "pymalloc family v1" binary
// format (golden vectors + round-trip properties), the text form v1 (render/parse, every parse error),
// the id rule (validate, liveRefs) and the validity-preserving removals. The golden vectors pin the
// format: if one of them changes, every committed corpus file changes meaning.

import PropertyBased
import Testing

@testable import Harness

/// `"00 0a ff"` → `[0x00, 0x0A, 0xFF]`.
func hexBytes(_ text: String) -> [UInt8] {
  text.split(whereSeparator: \.isWhitespace).map { UInt8($0, radix: 16)! }
}

private func p(_ id: Int) -> BlockRef { BlockRef(id) }

@Suite("Op programs")
struct ProgramCodecTests {
  // MARK: Golden vectors — never edit these; add new ones.

  static let goldenBytes = hexBytes(
    """
    00 03
    01 f0 03 00 f0 08 00
    02 00 00 f0 64 00
    03 00 00
    03 ff ff
    02 ff ff fc 70 11 01 00
    00 6b
    01 fe 00 00 00 00 01 00 00 00 60
    03 01 00
    """)

  static let goldenText = """
    # alloc-check program v1
    # family: pymalloc
    p0 = malloc(16)
    p1 = calloc(3, 8)
    p2 = realloc(p0, 100)
    free(p1)
    free(NULL)
    p3 = realloc(NULL, 70000)
    p4 = malloc(18446744073709551615)
    p5 = calloc(4294967296, 512)
    free(p3)

    """

  @Test("golden bytes decode to the golden text")
  func goldenDecode() {
    let program = OpDecoder.decodePymalloc(Self.goldenBytes)
    #expect(ProgramText.render(program) == Self.goldenText)
  }

  @Test("golden text encodes to the golden bytes")
  func goldenEncode() throws {
    let program = try ProgramText.parse(Self.goldenText)
    #expect(OpEncoder.encodePymalloc(program) == Self.goldenBytes)
  }

  @Test(
    "non-canonical bytes decode by the frozen rules",
    arguments: [
      // Tag upper bits ignored; lead 0x10 is T[16] = 81; 0x6D is calloc; 0xF1 u16; missing size reads 0.
      ("fc 10 6d f1 03 05", ["p0 = malloc(81)", "p1 = calloc(1283, 0)"]),
      // Lead 109 is 1 + 4·1; the ref field is cut short: v = 0x0005, 5 % 1 picks p0.
      ("00 6d 07 05", ["p0 = malloc(5)", "free(p0)"]),
      // Ref into an empty live list is NULL; an absent size field reads lead 0, T[0] = 0.
      ("02", ["p0 = realloc(NULL, 0)"]),
      // v % live.count; 0xFFFF is NULL even with live blocks; positions shift after a free.
      (
        "00 03 00 04 00 05 03 04 00 03 ff ff 0f 01 00",
        ["p0 = malloc(16)", "p1 = malloc(17)", "p2 = malloc(31)", "free(p1)", "free(NULL)", "free(p2)"]
      ),
      // 0xFD: u32; 0xFB: u16; 0xFF: u64 cut short after two bytes.
      (
        "00 fd 01 02 03 04 00 fb 34 12 00 ff 01 02",
        ["p0 = malloc(67305985)", "p1 = malloc(4660)", "p2 = malloc(513)"]
      ),
      // 0xF5: u16 cut short after one byte.
      ("00 f5 34", ["p0 = malloc(52)"]),
    ])
  func nonCanonicalDecode(bytes: String, lines: [String]) {
    let program = OpDecoder.decodePymalloc(hexBytes(bytes))
    let rendered = zip(program.ops, program.definedIDs).map { ProgramText.renderLine($0, definedID: $1) }
    #expect(rendered == lines)
  }

  @Test("the size table has the 108 frozen entries")
  func sizeTable() {
    let table = SizeTable.pymallocV1
    #expect(table.count == 108)
    #expect(Set(table).count == 108)
    #expect(table[0...4] == [0, 1, 15, 16, 17])
    #expect(table[95...97] == [511, 512, 513])
    #expect(table[98...104] == [1000, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304])
    #expect(table[105...107] == [0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max])
    #expect(SizeTable.largestValue(below: 300) == 289)
    #expect(SizeTable.largestValue(below: 0) == nil)
  }

  // MARK: Decoder edge cases

  @Test("the decoder accepts empty input and stops at maxOps")
  func decoderLimits() {
    #expect(OpDecoder.decodePymalloc([UInt8]()) == Program())
    let bytes = hexBytes("00 03 00 04 00 05")
    #expect(OpDecoder.decodePymalloc(bytes, maxOps: 2) == Program([.malloc(size: 16), .malloc(size: 17)]))
    #expect(OpDecoder.decodePymalloc(bytes, maxOps: 0) == Program())
    #expect(OpDecoder.decodePymalloc(bytes, maxOps: -1) == Program())
    #expect(OpDecoder.decodePymalloc(bytes[2...]) == Program([.malloc(size: 17), .malloc(size: 31)]))
  }

  @Test("every truncation of a field decodes with zero bytes past the end")
  func truncatedFields() {
    // calloc(u64, u64) cut at every length: never traps, always one op, always valid.
    let full = hexBytes("01 fe 11 22 33 44 55 66 77 88 fe 01 00 00 00 00 00 00 00")
    for length in 1...full.count {
      let program = OpDecoder.decodePymalloc(full[..<length])
      #expect(program.ops.count == 1)
      #expect(program.isValid)
    }
    #expect(OpDecoder.decodePymalloc(full[..<3]) == Program([.calloc(count: 0x11, size: 0)]))
  }

  // MARK: Round-trip properties

  @Test("any bytes decode to a valid program that survives encode and text round trips")
  func roundTrips() async {
    await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...400)) { bytes in
      let program = OpDecoder.decodePymalloc(bytes)
      #expect(program.isValid)
      let encoded = OpEncoder.encodePymalloc(program)
      #expect(OpDecoder.decodePymalloc(encoded) == program)
      #expect(OpEncoder.encodePymalloc(OpDecoder.decodePymalloc(encoded)) == encoded)
      let reparsed = try ProgramText.parse(ProgramText.render(program))
      #expect(reparsed == program)
      #expect(program.liveRefs().count <= program.allocationCount)
    }
  }

  @Test("removingOps keeps any decoded program valid and drops at least the named ops")
  func removalProperty() async {
    await propertyCheck(
      count: 300, input: Gen.uint8().array(of: 0...300), Gen.int(in: 0...120).array(of: 0...8)
    ) { bytes, indices in
      let program = OpDecoder.decodePymalloc(bytes)
      let smaller = program.removingOps(at: indices)
      #expect(smaller.isValid)
      let named = Set(indices.filter { program.ops.indices.contains($0) })
      #expect(smaller.ops.count <= program.ops.count - named.count)
    }
  }

  @Test("the live list agrees with a plain array under random appends and removals")
  func liveListModel() async {
    await propertyCheck(count: 200, input: Gen.uint8().array(of: 0...200)) { bytes in
      var live = Program.LiveList(capacity: bytes.count)
      var model: [Int] = []
      var next = 0
      for byte in bytes {
        if byte % 3 != 0 || model.isEmpty {
          #expect(live.appendNext() == next)
          model.append(next)
          next += 1
        } else {
          live.remove(model.remove(at: Int(byte) % model.count))
        }
        #expect(live.count == model.count)
        for (position, id) in model.enumerated() {
          #expect(live.id(at: position) == id)
          #expect(live.position(of: id) == position)
        }
      }
    }
  }

  // MARK: The id rule

  @Test("validate reports the first op that breaks the id rule")
  func validation() {
    #expect(throws: ProgramError(opIndex: 0, kind: .undefinedRef(p(0)))) {
      try Program([.free(p(0))]).validate()
    }
    #expect(throws: ProgramError(opIndex: 1, kind: .undefinedRef(p(1)))) {
      try Program([.malloc(size: 1), .realloc(p(1), size: 2)]).validate()
    }
    let twice = Program([.malloc(size: 1), .free(p(0)), .realloc(p(0), size: 2)])
    #expect(throws: ProgramError(opIndex: 2, kind: .consumedRef(p(0), consumedAt: 1))) { try twice.validate() }
    #expect(ProgramError(opIndex: 2, kind: .consumedRef(p(0), consumedAt: 1)).description.hasPrefix("op 2: p0"))
    #expect(!twice.isValid)
    #expect(Program([.free(nil), .realloc(nil, size: 1), .free(p(0))]).isValid)
  }

  @Test("ids are implicit: allocating ops number 0, 1, 2 and liveRefs lists the unconsumed")
  func idRule() {
    let program = Program([
      .malloc(size: 1), .free(nil), .calloc(count: 1, size: 1), .realloc(p(0), size: 2), .free(p(1)),
    ])
    #expect(program.allocationCount == 3)
    #expect(program.definedIDs == [p(0), nil, p(1), p(2), nil])
    #expect((0..<5).map(program.definedID(at:)) == program.definedIDs)
    #expect(program.definingOpIndex(of: p(2)) == 3)
    #expect(program.definingOpIndex(of: p(3)) == nil)
    #expect(program.liveRefs() == [p(2)])
  }

  // MARK: Text form

  @Test("parse maps human names to canonical ids and tolerates whitespace and comments")
  func parseHumanText() throws {
    let text = "\n  # alloc-check program v1  \r\n# family: pymalloc\n\n#note\r\n"
      + "p10=malloc( 0x18 )\n\tp7 = calloc(3,8)   # zeroed\r\n"
      + "p3 = realloc( p10 , 100 )\nfree( p7 )\np99 = realloc(NULL, 0XFF)\n"
    let document = try ProgramText.parseDocument(text)
    #expect(
      document.program
        == Program([
          .malloc(size: 24), .calloc(count: 3, size: 8), .realloc(p(0), size: 100), .free(p(1)),
          .realloc(nil, size: 255),
        ]))
    #expect(document.family == "pymalloc")
    #expect(document.comments == ["note"])
  }

  @Test("render writes the header, family and comments; parseDocument reads them back")
  func renderComments() throws {
    let program = Program([.malloc(size: 24), .free(p(0))])
    let text = ProgramText.render(program, comments: ["seed: 42", "replay: alloc-check replay x"])
    #expect(
      text == """
        # alloc-check program v1
        # family: pymalloc
        # seed: 42
        # replay: alloc-check replay x
        p0 = malloc(24)
        free(p0)

        """)
    let document = try ProgramText.parseDocument(text)
    #expect(document.program == program)
    #expect(document.comments == ["seed: 42", "replay: alloc-check replay x"])
  }

  @Test("renderLine spells each op canonically")
  func renderLines() {
    #expect(ProgramText.renderLine(.malloc(size: 24), definedID: p(0)) == "p0 = malloc(24)")
    #expect(ProgramText.renderLine(.calloc(count: 3, size: 8), definedID: p(1)) == "p1 = calloc(3, 8)")
    #expect(ProgramText.renderLine(.realloc(p(0), size: 5), definedID: p(3)) == "p3 = realloc(p0, 5)")
    #expect(ProgramText.renderLine(.realloc(nil, size: 5), definedID: p(4)) == "p4 = realloc(NULL, 5)")
    #expect(ProgramText.renderLine(.free(p(2)), definedID: nil) == "free(p2)")
    #expect(ProgramText.renderLine(.free(nil), definedID: nil) == "free(NULL)")
    #expect(p(7).description == "p7")
  }

  static let header = ProgramText.header + "\n"

  @Test(
    "parse errors name the line, quote it and say what was expected",
    arguments: [
      ("p0 = malloc(1)\n", 1, "expected the header"),
      ("\n\n# alloc-check program v2\n", 3, "expected the header"),
      ("", 1, "expected the header"),
      (header + "p0 = mallco(4)", 2, "unknown op \"mallco\"; expected malloc, calloc, realloc or free"),
      (header + "p0 = malloc(12a)", 2, "bad number \"12a\""),
      (header + "p0 = malloc(0x)", 2, "bad number \"0x\""),
      (header + "p0 = malloc(-1)", 2, "bad number \"-1\""),
      (header + "p0 = malloc(18446744073709551616)", 2, "overflows"),
      (header + "p0 = calloc(1, 0x10000000000000000)", 2, "overflows"),
      (header + "\nfree(p3)", 3, "p3 is used before any line defines it"),
      (header + "p0 = malloc(1)\nfree(p0)\nfree(p0)", 4, "used after line 3 freed or realloc'd it"),
      (header + "p0 = malloc(1)\np1 = realloc(p0, 2)\nfree(p0)", 4, "used after line 3"),
      (header + "p0 = malloc(1)\np0 = malloc(2)", 3, "already defined on line 2"),
      (header + "p0 = malloc(1)\np1 = realloc(p1, 2)", 3, "p1 is used before"),
      (header + "free(NULL) x", 2, "trailing text \"x\""),
      (header + "p0 = malloc(1))", 2, "trailing text \")\""),
      (header + "malloc(4)", 2, "malloc returns a block"),
      (header + "p0 = free(NULL)", 2, "free returns nothing"),
      (header + "p0 = malloc 4", 2, "expected \"(\" after malloc"),
      (header + "p0 = calloc(1 2)", 2, "expected \",\""),
      (header + "p0 = malloc(4", 2, "expected \")\", found end of line"),
      (header + "free(q1)", 2, "bad block name \"q1\""),
      (header + "q = malloc(1)", 2, "bad block name \"q\""),
      (header + "free()", 2, "expected a block name or NULL"),
      (header + "= malloc(1)", 2, "bad block name"),
    ])
  func parseErrors(text: String, line: Int, fragment: String) {
    do {
      let program = try ProgramText.parse(text)
      Issue.record("parsed to \(program), expected an error on line \(line)")
    } catch {
      #expect(error.line == line)
      #expect(error.description.hasPrefix("line \(line) "), "\(error)")
      #expect(error.description.contains(fragment), "\(error)")
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      #expect(error.text == (lines.indices.contains(line - 1) ? String(lines[line - 1]) : ""))
    }
  }

  @Test("the largest size parses, in decimal and in hex")
  func parseMaxSize() throws {
    let program = try ProgramText.parse(Self.header + "p0 = calloc(18446744073709551615, 0xFFFFFFFFFFFFFFFF)")
    #expect(program == Program([.calloc(count: .max, size: .max)]))
  }
}
