import { complianceCsv, csvField } from './compliance-csv.js';

describe('compliance CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['-1+1', "'-1+1"],
    ['@sum', "'@sum"],
    [null, ''],
    [false, 'false'],
    [-5, '-5'],
  ])('writes %j as %s', (value, written) => {
    expect(csvField(value)).toBe(written);
  });

  it('starts with a header row and ends every row with CRLF', () => {
    const csv = complianceCsv([
      {
        instanceId: 'i1',
        compliant: false,
        retentionDays: null,
        requiredDays: 30,
        ruleId: 'finance, prod',
        lockError: 'APIGW.0308',
      },
    ]);
    expect(csv).toBe(
      'instance_id,compliant,retention_days,required_days,rule_id,lock_error\r\n' +
        'i1,false,,30,"finance, prod",APIGW.0308\r\n',
    );
  });
});
