import { Controller, Get, HttpStatus, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOperation,
  ApiProperty,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { IncomingMessage } from 'node:http';
import { IsString, Matches } from 'class-validator';
import { ApiError } from '../common/api-error';
import { ErrorResponse } from '../common/responses';
import { DATASET_ROOTS } from '../tokens';
import {
  DatasetSummary,
  FOLDER_NAME,
  FOLDER_NAME_RULE,
  IMAGE_FILE_NAME,
  IMAGE_FILE_NAME_RULE,
  MAX_IMAGE_BYTES,
  StoredImage,
  addImage,
  listDatasets,
} from './dataset-folders';

export class DatasetParamsDto {
  @IsString()
  @Matches(FOLDER_NAME, { message: `name must be ${FOLDER_NAME_RULE}` })
  name!: string;
}

export class ImageUploadQueryDto {
  @ApiProperty({ example: 'sneaker', description: 'Class (sub-folder) the image belongs to' })
  @IsString({ message: 'class is required: the class (sub-folder) of the image' })
  @Matches(FOLDER_NAME, { message: `class must be ${FOLDER_NAME_RULE}` })
  class!: string;

  @ApiProperty({ example: 'img-0001.png', description: 'File name of the image in its class folder' })
  @IsString({ message: 'file is required: the file name of the image' })
  @Matches(IMAGE_FILE_NAME, { message: `file must be ${IMAGE_FILE_NAME_RULE}` })
  file!: string;
}

const IMAGE_CONTENT_TYPES = ['application/octet-stream', 'image/png', 'image/jpeg'];

/** The raw request body (left unparsed: only JSON is parsed globally), refused above `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new ApiError(413, `body: an image may have at most ${limit} bytes`, [
      { field: 'body', reason: `more than ${limit} bytes` },
    ]);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

interface StatusResponse {
  status(code: number): unknown;
}

@ApiTags('datasets')
@ApiBearerAuth()
@Controller('v1/datasets')
export class DatasetsController {
  constructor(@Inject(DATASET_ROOTS) private readonly roots: readonly string[]) {}

  @Get()
  @ApiOperation({
    summary: 'Image-folder datasets in the first dataset root, with their classes and image counts',
  })
  list(): Promise<DatasetSummary[]> {
    return listDatasets(this.roots);
  }

  @Post(':name/images')
  @ApiOperation({
    summary: 'Add one image to a dataset (created on first use) under the first dataset root',
    description:
      'The body is the image file (PNG or JPEG; Content-Type application/octet-stream, image/png or ' +
      `image/jpeg; at most ${MAX_IMAGE_BYTES} bytes), stored as <name>/<class>/<file>. 201 when stored, 200 ` +
      'when the same bytes were already stored under that name, 409 when other bytes are. A job then uses ' +
      '`proxy.dataset: {"kind": "image-folder", "path": "<name>"}`.',
  })
  @ApiConsumes(...IMAGE_CONTENT_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 201, description: 'Stored' })
  @ApiResponse({ status: 200, description: 'Already stored with the same bytes' })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'Bad name, class, file or image' })
  @ApiResponse({
    status: 409,
    type: ErrorResponse,
    description: 'Other bytes already stored under that name',
  })
  @ApiResponse({ status: 415, type: ErrorResponse, description: 'Not an image content type' })
  async addImage(
    @Param() params: DatasetParamsDto,
    @Query() q: ImageUploadQueryDto,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: StatusResponse,
  ): Promise<StoredImage> {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!IMAGE_CONTENT_TYPES.includes(type)) {
      const reason = `must be one of ${IMAGE_CONTENT_TYPES.join(', ')} (the body is the image file)`;
      throw new ApiError(415, `headers.content-type: ${reason}`, [{ field: 'headers.content-type', reason }]);
    }
    const bytes = await readBody(req, MAX_IMAGE_BYTES);
    const stored = await addImage(this.roots, params.name, q.class, q.file, bytes);
    res.status(stored.created ? HttpStatus.CREATED : HttpStatus.OK);
    return stored;
  }
}
