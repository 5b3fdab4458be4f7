import { getMetadataStorage, IsInt, IsString, validate } from 'class-validator';
import { GatewayValidationPipe } from './validation.js';

const storage = getMetadataStorage();
// The pipe memoizes the lookup of the storage every class-validator call reads.
new GatewayValidationPipe();

const failedRules = async (value: object) =>
  (await validate(value)).flatMap((error) => Object.keys(error.constraints ?? {}));

describe('memoized rule lookup', () => {
  it('answers a repeated lookup with the rules it found the first time', () => {
    class Named {
      @IsString()
      name!: string;
    }
    const first = storage.getTargetValidationMetadatas(Named, '', false, false);
    expect(first.map((rule) => rule.propertyName)).toEqual(['name']);
    expect(storage.getTargetValidationMetadatas(Named, '', false, false)).toBe(first);
  });

  it('sees a rule added after the class was validated, on the class and on a subclass', async () => {
    class Parent {
      @IsString()
      name!: string;
      count!: unknown;
    }
    class Child extends Parent {}
    const value = (type: typeof Parent) => Object.assign(new type(), { name: 'a', count: 'many' });
    expect(await failedRules(value(Parent))).toEqual([]);
    expect(await failedRules(value(Child))).toEqual([]);

    IsInt()(Parent.prototype, 'count');

    expect(await failedRules(value(Parent))).toEqual(['isInt']);
    expect(await failedRules(value(Child))).toEqual(['isInt']);
  });

  it('answers a lookup by group with the rules of the group, one added later included', async () => {
    class Grouped {
      @IsString({ groups: ['strict'] })
      name!: unknown;
    }
    const value = Object.assign(new Grouped(), { name: 1 });
    const inGroup = async () =>
      (await validate(value, { groups: ['strict'] })).flatMap((error) =>
        Object.keys(error.constraints ?? {}),
      );
    expect(await inGroup()).toEqual(['isString']);
    IsInt({ groups: ['strict'] })(Grouped.prototype, 'name');
    expect(await inGroup()).toEqual(['isString']);
    Object.assign(value, { name: 'x' });
    expect(await inGroup()).toEqual(['isInt']);
  });
});
