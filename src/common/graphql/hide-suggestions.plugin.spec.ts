import { describe, expect, it } from '@jest/globals';
import { withoutSuggestion } from './hide-suggestions.plugin.js';

describe('withoutSuggestion', () => {
  it('drops the suggestion graphql-js appends, whatever it suggests', () => {
    expect(
      withoutSuggestion(
        'Cannot query field "enabeld" on type "BackupVaultLock". Did you mean "enabled"?',
      ),
    ).toBe('Cannot query field "enabeld" on type "BackupVaultLock".');
    expect(
      withoutSuggestion(
        'Value "ENABEL" does not exist in "VaultLockAction" enum. Did you mean the enum value "ENABLE"?',
      ),
    ).toBe('Value "ENABEL" does not exist in "VaultLockAction" enum.');
    expect(withoutSuggestion('Unknown type "Inpt". Did you mean "Input", "Int", or "ID"?')).toBe(
      'Unknown type "Inpt".',
    );
  });

  it("keeps what the caller sent: only the last suggestion is graphql-js's", () => {
    expect(
      withoutSuggestion(
        'Variable "$input" got invalid value { x: " Did you mean it?" }; Field "x" is not defined by type "In". Did you mean "y"?',
      ),
    ).toBe(
      'Variable "$input" got invalid value { x: " Did you mean it?" }; Field "x" is not defined by type "In".',
    );
  });

  it('leaves a message without a suggestion as it is', () => {
    expect(withoutSuggestion('Syntax Error: Expected Name, found "}".')).toBe(
      'Syntax Error: Expected Name, found "}".',
    );
  });
});
