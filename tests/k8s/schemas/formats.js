// formats.js — the string/number formats the vendored Kubernetes validators check, in place of
// @kubernetes-models/validate (which pulls in ajv-formats): the same definitions, MIT-licensed
// from kubernetes-models (quantity, byte) and ajv-formats (int32, int64, double, date-time).
const rBase64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// https://github.com/kubernetes/apimachinery/blob/8c18d83/pkg/api/resource/quantity.go
const rSignedNumber = /[+-]?(?:\d+|\d+\.\d+|\d+\.|\.\d+)/;
const rQuantitySuffix = new RegExp(`(?:[KMGTPE]i|(?:[YZEPTGMkhdcmunpfazy]|da)|[eE]${rSignedNumber.source})?`);
const rQuantity = new RegExp(`^${rSignedNumber.source}${rQuantitySuffix.source}$`);
const rDateTime = /^\d\d\d\d-[0-1]\d-[0-3]\d[t\s](?:[0-2]\d:[0-5]\d:[0-5]\d|23:59:60)(?:\.\d+)?(?:z|[+-]\d\d(?::?\d\d)?)$/i;
export const formats = {
  int32: { type: "number", validate: (v) => Number.isInteger(v) && v <= 2 ** 31 - 1 && v >= -(2 ** 31) },
  int64: { type: "number", validate: (v) => Number.isInteger(v) },
  double: { type: "number", validate: () => true },
  byte: { type: "string", validate: (v) => rBase64.test(v) },
  quantity: { type: "string", validate: rQuantity },
  "date-time": { type: "string", validate: (v) => rDateTime.test(v) },
};
