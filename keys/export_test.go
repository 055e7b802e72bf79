package keys

// Names the external tests need and users don't.
var WrapAssociatedData = wrapAssociatedData

const IDKeyMetaName = idKeyMetaName
