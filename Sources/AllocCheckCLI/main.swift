import Harness
import AllocUnderTest
var rng = SeededRandom(seed: 1)
let adapter = PymallocAdapter()
for len in [10, 100, 1000, 4000] {
  for _ in 0..<3 {
    let p = ProgramGenerator(length: len).generate(&rng)
    let v = Executor.run(p, on: adapter)
    print(len, v.passed, v.violation.map { "\($0)" } ?? "", v.opsExecuted)
  }
}
print(adapter.statsText()!)
