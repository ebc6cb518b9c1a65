/*
 * tflm-hil device protocol: the constants shared by the device core and the
 * host codec (harness/protocol/constants.py mirrors them; a unit test checks
 * that the two agree). The wire format is described in docs/protocol.md.
 */
#ifndef HIL_PROTO_H
#define HIL_PROTO_H

/* 2: chunks of a vector arrive in any order, block-aligned (INPUT_STATE tells which blocks
 * the device holds); INVOKE runs are bounded (ERROR LIMIT). */
#define HIL_PROTO_VERSION 2u

/* Frame body: type u8 | seq u8 | len u16 LE | payload[len] | crc32 u32 LE,
 * COBS-encoded and delimited by 0x00 on the wire. */
#define HIL_HEADER_LEN 4u
#define HIL_CRC_LEN 4u
#define HIL_FRAME_OVERHEAD (HIL_HEADER_LEN + HIL_CRC_LEN)

/* Host -> device requests. */
#define HIL_MSG_HELLO 0x01u
#define HIL_MSG_SET_INPUT 0x02u
#define HIL_MSG_INVOKE 0x03u
#define HIL_MSG_GET_OUTPUT 0x04u
#define HIL_MSG_STATS 0x05u
#define HIL_MSG_RESET 0x06u
#define HIL_MSG_ECHO 0x07u
#define HIL_MSG_PROFILE 0x08u /* per-operator counts of the last invoke */
#define HIL_MSG_INPUT_STATE 0x09u /* which blocks of the current vector the device holds */

/* Device -> host replies: request type | 0x80. */
#define HIL_REPLY_BIT 0x80u
#define HIL_MSG_HELLO_R 0x81u
#define HIL_MSG_ACK 0x82u
#define HIL_MSG_RESULT 0x83u
#define HIL_MSG_OUTPUT 0x84u
#define HIL_MSG_STATS_R 0x85u
#define HIL_MSG_RESET_R 0x86u
#define HIL_MSG_ECHO_R 0x87u
#define HIL_MSG_PROFILE_R 0x88u
#define HIL_MSG_INPUT_STATE_R 0x89u
/* Unsolicited: sent once at every boot. */
#define HIL_MSG_BOOT 0xF0u
#define HIL_MSG_ERROR 0xEEu

/* SET_INPUT flags. */
#define HIL_INPUT_FLAG_INVOKE 0x01u

/* Error codes carried by HIL_MSG_ERROR. */
#define HIL_E_CRC 1u          /* checksum mismatch */
#define HIL_E_LENGTH 2u       /* frame shorter than its header or len field */
#define HIL_E_TOO_LARGE 3u    /* frame exceeds the device's frame buffer */
#define HIL_E_UNKNOWN_TYPE 4u /* unknown message type */
#define HIL_E_BAD_ARG 5u      /* malformed request payload */
#define HIL_E_GAP 6u          /* v1 only: input chunk beyond the next expected offset */
#define HIL_E_INCOMPLETE 7u   /* invoke before every input byte arrived */
#define HIL_E_NO_MODEL 8u     /* the model could not be initialised */
#define HIL_E_INVOKE 9u       /* the backend reported an inference failure */
#define HIL_E_RANGE 10u       /* offset/length outside the tensor bytes */
#define HIL_E_OVERFLOW 11u    /* the link's receive buffer overflowed */
#define HIL_E_COBS 12u        /* malformed COBS encoding */
#define HIL_E_LIMIT 13u       /* a count beyond the device's bound; detail: the bound */

/* HELLO_R / STATS_R TLV tags (tag u8 | len u8 | value). */
#define HIL_TAG_PROTO_VERSION 0x01u /* u16 */
#define HIL_TAG_FW_VERSION 0x02u    /* str */
#define HIL_TAG_BOARD 0x03u         /* str */
#define HIL_TAG_TFLM_VERSION 0x04u  /* str */
#define HIL_TAG_CORE_VERSION 0x05u  /* str: Arduino core */
#define HIL_TAG_MODEL_HASH 0x06u    /* 32 bytes, SHA-256 of the .tflite */
#define HIL_TAG_IMAGE_HASH 0x07u    /* 32 bytes, hash of every build input */
#define HIL_TAG_ARENA_SIZE 0x08u    /* u32 */
#define HIL_TAG_ARENA_USED 0x09u    /* u32 */
#define HIL_TAG_CLOCK_HZ 0x0Au      /* u32 */
#define HIL_TAG_RX_WINDOW 0x0Bu     /* u32: bytes the host may keep unacknowledged */
#define HIL_TAG_MAX_FRAME 0x0Cu     /* u32: largest frame body accepted */
#define HIL_TAG_BOOT_ID 0x0Du       /* u32 */
#define HIL_TAG_NONCE 0x0Eu         /* u32: the host nonce, echoed */
#define HIL_TAG_FLAGS 0x0Fu         /* u32: HIL_FLAG_* */
#define HIL_TAG_INPUT 0x10u         /* tensor descriptor */
#define HIL_TAG_OUTPUT 0x11u        /* tensor descriptor */
#define HIL_TAG_MODEL_ERROR 0x12u   /* str: why the model did not initialise */
#define HIL_TAG_STACK_USED 0x13u    /* u32: stack high-water mark, bytes */
#define HIL_TAG_CPU 0x14u           /* str */
#define HIL_TAG_INPUT_BLOCK 0x15u   /* u32: input chunks are aligned to this many bytes */
#define HIL_TAG_STAGING 0x16u       /* u32: receive-buffer bytes that hold the next vector */
#define HIL_TAG_MAX_RUNS 0x17u      /* u32: largest runs + warmup of one INVOKE */

/* STATS_R counters (u32 each). */
#define HIL_TAG_FRAMES_OK 0x40u
#define HIL_TAG_FRAMES_BAD 0x41u
#define HIL_TAG_BYTES_DROPPED 0x42u
#define HIL_TAG_INVOKES 0x43u
#define HIL_TAG_ERRORS_SENT 0x44u
#define HIL_TAG_OVERFLOWS 0x45u

#define HIL_FLAG_SIMULATED 0x01u       /* the device is a simulated twin */
#define HIL_FLAG_CLOCK_ESTIMATED 0x02u /* cycle counts come from a cost model */
#define HIL_FLAG_MODEL_READY 0x04u     /* the interpreter is ready to invoke */
#define HIL_FLAG_EMULATED 0x08u        /* cycle counts are emulated instructions (QEMU) */

#define HIL_MAX_DIMS 6u
/* PROFILE_R carries at most this many bytes of an operator's name. */
#define HIL_PROFILE_NAME_MAX 48u

#endif /* HIL_PROTO_H */
