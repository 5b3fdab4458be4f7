/** One sample of Prometheus text exposition: `name{label="value",…} 12`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function samplesOf(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [, name, labelText = '', value] = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line) ?? [];
      if (name === undefined) throw new Error(`unreadable sample line: ${line}`);
      const labels = Object.fromEntries(
        [...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, val]) => [key, val]),
      );
      return { name, labels, value: Number(value) };
    });
}

/**
 * The sum of the samples named `name` whose labels include `labels`; undefined when there is
 * none, so that a series that was never written fails differently from one that stayed at 0.
 */
export function sampleSum(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matching = samplesOf(text).filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** The label sets of the samples named `name`. */
export function labelSetsOf(text: string, name: string): Record<string, string>[] {
  return samplesOf(text)
    .filter((sample) => sample.name === name)
    .map((sample) => sample.labels);
}

/** Every metric family the text declares (`# TYPE name kind`). */
export function metricFamilies(text: string): Map<string, string> {
  return new Map(
    [...text.matchAll(/^# TYPE (\w+) (\w+)$/gm)].map(([, name, kind]) => [name, kind]),
  );
}
