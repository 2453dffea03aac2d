"""LED tokenizers as real transformers classes, for code written against HF's API (the ``hf`` extra:
transformers==4.46.3).

- ``LEDTokenizer`` is a ``transformers.PreTrainedTokenizer`` whose tokenization is led_ref's byte-level BPE
  (``led_ref.bpe.ByteLevelBPE``): transformers supplies the API around it (``__call__``, added tokens, chat
  templates, ``save_pretrained`` / ``from_pretrained``, warnings), led_ref the BPE.
- ``LEDTokenizerFast`` is a ``transformers.BartTokenizerFast`` (HF's LEDTokenizerFast is that class plus LED's
  padding rule) whose Rust backend transformers' own converter builds from ``LEDTokenizer``, as HF builds every fast
  tokenizer that has no tokenizer.json.

LED's rules come from their one home in the core: the special-token layout and ``add_prefix_space`` from
``led_ref.tokenizer``, the ``global_attention_mask`` padding from ``led_ref.inputs``. Both classes give the ids of
led_ref.LEDTokenizer / LEDTokenizerFast (tests/conformance/test_hf_tokenizers.py); docs/hf.md lists what differs.
"""

try:
    import transformers
except ImportError as exc:  # the core never needs transformers; this module is the HF integration
    raise ImportError(
        "led_ref.export.hf_tokenizers needs transformers: pip install 'led-ref[hf]' (transformers==4.46.3)"
    ) from exc

from led_ref.bpe import ByteLevelBPE, load_merges, load_vocab, tokens_to_text
from led_ref.inputs import pad_global_attention_mask
from led_ref.tokenizer import (
    ERROR_HANDLERS,
    VOCAB_FILES_NAMES,
    special_tokens_mask,
    token_type_ids,
    with_prefix_space,
    with_special_tokens,
    write_vocab_files,
)

__all__ = ["LEDTokenizer", "LEDTokenizerFast", "VOCAB_FILES_NAMES"]

AddedToken = transformers.AddedToken
PaddingStrategy = transformers.utils.PaddingStrategy


class _LEDRules:
    """What LED adds to transformers' base classes, from led_ref's one home of each rule: token types (all zero)
    and ``_pad``, after which ``global_attention_mask`` follows the padded ``model_input_names[0]`` row, padded on
    the tokenizer's ``padding_side`` (HF reads the attribute there, not the call's argument) with
    ``led_ref.inputs.pad_global_attention_mask``."""

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None):
        return token_type_ids(token_ids_0, token_ids_1)

    def _pad(
        self,
        encoded_inputs,
        max_length=None,
        padding_strategy=PaddingStrategy.DO_NOT_PAD,
        pad_to_multiple_of=None,
        padding_side=None,
        return_attention_mask=None,
    ):
        encoded_inputs = super()._pad(
            encoded_inputs, max_length, padding_strategy, pad_to_multiple_of, padding_side, return_attention_mask
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        if return_attention_mask and "global_attention_mask" in encoded_inputs:
            length = len(encoded_inputs[self.model_input_names[0]])
            encoded_inputs["global_attention_mask"] = pad_global_attention_mask(
                encoded_inputs["global_attention_mask"], length, self.padding_side
            )
        return encoded_inputs


class LEDTokenizer(_LEDRules, transformers.PreTrainedTokenizer):
    """HF's slow ``LEDTokenizer`` (GPT-2 byte-level BPE, BART/LED special tokens, LED padding) over led_ref's BPE.

    Same constructor as HF's. ``encoder`` and ``bpe_ranks`` are what transformers' slow-to-fast converter reads.
    """

    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file,
        merges_file,
        errors="replace",
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        add_prefix_space=False,
        **kwargs,
    ):
        if errors not in ERROR_HANDLERS:
            raise ValueError(f"errors must be a bytes.decode error handler such as 'replace', got {errors!r}")

        def token(value, lstrip=False):
            return AddedToken(value, lstrip=lstrip, rstrip=False) if isinstance(value, str) else value

        vocab = load_vocab(vocab_file)
        self.core = ByteLevelBPE(vocab, load_merges(merges_file, vocab), unk_token=str(unk_token))
        self.encoder, self.decoder, self.bpe_ranks = self.core.encoder, self.core.decoder, self.core.bpe_ranks
        self.errors = errors
        self.add_prefix_space = add_prefix_space
        super().__init__(
            errors=errors,
            bos_token=token(bos_token),
            eos_token=token(eos_token),
            unk_token=token(unk_token),
            sep_token=token(sep_token),
            cls_token=token(cls_token),
            pad_token=token(pad_token),
            # the mask token behaves like a normal word: it takes the space before it
            mask_token=token(mask_token, lstrip=True),
            add_prefix_space=add_prefix_space,
            **kwargs,
        )

    @property
    def vocab_size(self):
        return len(self.encoder)

    def get_vocab(self):
        return dict(self.encoder, **self.added_tokens_encoder)

    def _tokenize(self, text):
        return self.core.tokenize(text)

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index)

    def convert_tokens_to_string(self, tokens):
        return tokens_to_text(tokens, self.errors)

    def save_vocabulary(self, save_directory, filename_prefix=None):
        return write_vocab_files(save_directory, self.encoder, self.core.merges, filename_prefix)

    def prepare_for_tokenization(self, text, is_split_into_words=False, **kwargs):
        add_prefix_space = kwargs.pop("add_prefix_space", self.add_prefix_space)
        return (with_prefix_space(text) if is_split_into_words or add_prefix_space else text), kwargs

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        return with_special_tokens(self.cls_token_id, self.sep_token_id, token_ids_0, token_ids_1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False):
        if already_has_special_tokens:
            return super().get_special_tokens_mask(token_ids_0, token_ids_1, already_has_special_tokens=True)
        return special_tokens_mask(token_ids_0, token_ids_1)


class LEDTokenizerFast(_LEDRules, transformers.BartTokenizerFast):
    """HF's ``LEDTokenizerFast``: a Rust ``tokenizers`` backend (ByteLevel + BPE + RobertaProcessing) that
    transformers converts from ``LEDTokenizer`` (or loads from a tokenizer.json), LED's padding rule and special-token
    layout. Everything else (offsets, overflow, ``add_prefix_space`` / ``trim_offsets`` kept in the backend, the
    pretokenized-input check, ``<mask>`` with lstrip) is transformers' BartTokenizerFast, which HF's LEDTokenizerFast
    copies line for line."""

    slow_tokenizer_class = LEDTokenizer
    model_input_names = ["input_ids", "attention_mask"]

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        return with_special_tokens(self.bos_token_id, self.eos_token_id, token_ids_0, token_ids_1)
