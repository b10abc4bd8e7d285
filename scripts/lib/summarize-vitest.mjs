// Prints the suite's closing line, `tests: N passed, N failed, N skipped`, from vitest's JSON
// report, and fails when no test ran at all (a suite that found nothing must not pass).
import { readFileSync } from 'node:fs';

const path = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch {
  console.log('tests: 0 passed, 1 failed');
  console.error(`no vitest report at ${path}: the test run did not finish`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A suite that failed as a whole (an import error, a failing hook) counts once when none of its
// tests is counted as failed; otherwise failed suites only repeat their failed tests.
const failedTests = report.numFailedTests ?? 0;
const failed = failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed === 0) {
  console.error('no test ran');
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
