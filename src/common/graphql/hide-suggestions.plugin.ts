import type { ApolloServerPlugin } from '@apollo/server';

/** graphql-js ends a message with its suggestion: ` Did you mean "a", "b", or "c"?`. */
const SUGGESTION = ' Did you mean ';

export function withoutSuggestion(message: string): string {
  const at = message.lastIndexOf(SUGGESTION);
  return at >= 0 && message.endsWith('?') ? message.slice(0, at) : message;
}

/**
 * Errors still say what is wrong, never what would be right: graphql-js suggests the field,
 * argument, type and enum value names nearest a misspelled one, which would map out the schema
 * that production keeps from introspection. Apollo's `hideSchemaDetailsFromClientErrors` strips
 * them from validation errors only, while variable values are checked later, as execution
 * starts; every error a request meets passes through here before it is formatted.
 */
export const hideSuggestionsPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors }) {
        for (const error of errors) error.message = withoutSuggestion(error.message);
      },
    };
  },
};
